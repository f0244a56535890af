import { type FSWatcher, watch } from 'node:fs';
import { dirname } from 'node:path';

/** A running watch; `close()` stops it and cancels a pending notification. */
export interface DirectoryWatch {
  close(): void;
}

/**
 * Calls `onSettled` once the directory holding `path` has been quiet for `debounceMs` after any
 * change. The directory, not the file, is watched: `geoipupdate` writes a temporary file and
 * renames it over the old one, which replaces the inode a file watch would be attached to, and a
 * symlink re-pointed in that directory shows up the same way. Callers decide whether the file
 * really changed. The watcher does not keep the process alive. Throws if the directory cannot be
 * watched; later watcher failures (e.g. the directory was removed) go to `onError` and end the watch.
 */
export function watchDirectoryOf(
  path: string,
  debounceMs: number,
  onSettled: () => void,
  onError: (error: Error) => void,
): DirectoryWatch {
  let timer: NodeJS.Timeout | undefined;
  const settle = () => {
    clearTimeout(timer);
    timer = setTimeout(onSettled, debounceMs);
    timer.unref();
  };
  const watcher: FSWatcher = watch(dirname(path), { persistent: false }, settle);
  watcher.on('error', (error) => {
    clearTimeout(timer);
    watcher.close();
    onError(error);
  });
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
