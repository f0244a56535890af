import { type FSWatcher, realpathSync, watch } from 'node:fs';
import { dirname } from 'node:path';

/** A running watch; `close()` stops it and cancels a pending notification. */
export interface DirectoryWatch {
  close(): void;
}

/**
 * Calls `onSettled` once the directory holding `path` has been quiet for `debounceMs` after any
 * change. The directory, not the file, is watched: `geoipupdate` writes a temporary file and
 * renames it over the old one, which replaces the inode a file watch would be attached to, and a
 * symlink re-pointed in that directory shows up the same way. When `path` is a symlink into another
 * directory (`/etc/…/GeoLite2-Country.mmdb` → `/var/lib/GeoIP/…`), that directory is watched too: a
 * replacement there changes what the path reads without touching the link's own directory. Callers
 * decide whether the file really changed. The watchers do not keep the process alive. Throws if a
 * directory cannot be watched; later watcher failures (e.g. the directory was removed) go to `onError`
 * and end the watch.
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
  const watchers: FSWatcher[] = [];
  const close = () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
  try {
    for (const directory of directoriesOf(path)) {
      const watcher = watch(directory, { persistent: false }, settle);
      watcher.on('error', (error) => {
        close();
        onError(error);
      });
      watchers.push(watcher);
    }
  } catch (error) {
    close();
    throw error;
  }
  return { close };
}

/** The directory of `path`, and that of the file it resolves to when a symlink leads elsewhere. */
function directoriesOf(path: string): string[] {
  const own = dirname(path);
  let target: string;
  try {
    target = dirname(realpathSync(path));
  } catch {
    return [own]; // Missing or a dangling link: the watch on its own directory sees it appear.
  }
  return target === own ? [own] : [own, target];
}
