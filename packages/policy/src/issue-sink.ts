import type { z } from 'zod';
import type { PolicyIssue } from './errors.js';
import { describePath, fromZodIssues, type PathSegment } from './issue-path.js';

/** Where a document came from: its file (if any) and how to find the line of a path in it. */
export type DocumentSource = {
  file?: string;
  value: unknown;
  /** The 1-based line of the value at `path`, when the source text is known. */
  locate?: (path: readonly PathSegment[]) => number | undefined;
};

/**
 * Collects the issues of one source, rendering paths against the source's value and adding the file and
 * line. Several sinks may share one issue list so that a multi-file load reports everything at once.
 */
export class IssueSink {
  constructor(
    readonly source: DocumentSource,
    readonly issues: PolicyIssue[] = [],
    private readonly rootName = '',
  ) {}

  /** Records `message` about the value at `path`. */
  add(path: readonly PathSegment[], message: string): void {
    const line = this.source.locate?.(path);
    this.issues.push({
      ...(this.source.file === undefined ? {} : { file: this.source.file }),
      ...(line === undefined ? {} : { line }),
      path: describePath(path, this.source.value, this.rootName),
      message,
    });
  }

  /** Records the issues of a zod parse of the object at `basePath`. */
  addZod(
    issues: readonly z.core.$ZodIssue[],
    basePath: readonly PathSegment[],
    allowedKeys: readonly string[],
  ): void {
    for (const { path, message } of fromZodIssues(issues, allowedKeys))
      this.add([...basePath, ...path], message);
  }

  /** Describes `path` for messages that point at another entry: `b.yaml orders[0] (id "x")`. */
  where(path: readonly PathSegment[]): string {
    const described = describePath(path, this.source.value, this.rootName);
    return this.source.file === undefined ? described : `${this.source.file} ${described}`;
  }
}
