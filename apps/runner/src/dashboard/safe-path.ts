import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';

/** Whether `path` is `root` itself or lies below it (both absolute and normalised). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The file a request path names inside `root`, or undefined when it names none or tries
 * to leave the folder. `requestPath` is the URL-encoded path below the route's prefix
 * (e.g. `run-a/config.json`). Refused: undecodable escapes, NUL bytes, any `..` segment
 * (written or encoded as `%2e%2e`, with `/` or `\` or `%2f` around it), absolute paths
 * (`/etc/passwd`, `C:\...`), and paths whose real location, symlinks followed, is
 * outside the real `root`. Only regular files are returned.
 */
export async function resolveInside(root: string, requestPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(requestPath);
  } catch {
    return undefined;
  }
  if (decoded === '' || decoded.includes('\0')) return undefined;
  if (decoded.startsWith('/') || decoded.startsWith('\\') || /^[A-Za-z]:/.test(decoded) || isAbsolute(decoded)) return undefined;
  const segments = decoded.split(/[\\/]+/);
  if (segments.some((s) => s === '..' || s === '.')) return undefined;
  const absRoot = resolve(root);
  const full = resolve(absRoot, decoded);
  if (!isInside(absRoot, full)) return undefined;
  try {
    const [realRoot, realFull] = await Promise.all([realpath(absRoot), realpath(full)]);
    if (!isInside(realRoot, realFull)) return undefined;
    return (await stat(realFull)).isFile() ? realFull : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `path` (inside `root` by name) also resolves inside it once symlinks are followed; false when it does not exist. */
export async function realInside(root: string, path: string): Promise<boolean> {
  try {
    const [realRoot, realPath] = await Promise.all([realpath(root), realpath(path)]);
    return isInside(realRoot, realPath);
  } catch {
    return false;
  }
}
