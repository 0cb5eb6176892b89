#!/usr/bin/env node
// Builds @tensorflow/tfjs-node's native binding offline, against the TensorFlow C API that the
// `tensorflow-cpu` Python wheel ships (libtensorflow_cc.so.2 exports it; headers are under
// tensorflow/include). tfjs-node's own install script downloads libtensorflow from the
// internet, so pnpm does not run it (see pnpm-workspace.yaml); with internet, `npm i
// @tensorflow/tfjs-node` needs none of this.
//
//   node scripts/build-tfjs-node.mjs            build if needed, then check with a matmul
//   node scripts/build-tfjs-node.mjs --check    only report whether the binding loads (exit 1 if not)
//   node scripts/build-tfjs-node.mjs --force    rebuild even when a working binding exists
//
// The wheel is found in this order: RFTKIT_TF_DIR (the wheel's `tensorflow` folder), the
// project-local .cache/tensorflow-cpu, python3's own site-packages; when none has it, the
// wheel is pip-installed into .cache/tensorflow-cpu (without its Python dependencies: only
// the shared libraries and headers are used). Exit status 0: built and checked; 2: the
// wheel or a toolchain is unavailable (the message says which); 1: the build or check failed.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TF_WHEEL = 'tensorflow-cpu==2.21.*';
const NAPI_VERSION = 8; // the highest tfjs-node 4.22 lists; node-pre-gyp picks lib/napi-v8 on Node >= 18
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const localWheelDir = path.join(root, '.cache', 'tensorflow-cpu');
const args = new Set(process.argv.slice(2));
const log = (msg) => console.log(`tfjs-node: ${msg}`);

class Unavailable extends Error {}

function tfjsNodeDir() {
  // Resolve it the way @rftkit/tensor's backend loader does.
  const require = createRequire(path.join(root, 'packages', 'tensor', 'package.json'));
  try {
    return fs.realpathSync(path.dirname(require.resolve('@tensorflow/tfjs-node/package.json')));
  } catch {
    throw new Unavailable('@tensorflow/tfjs-node is not installed (run pnpm install --frozen-lockfile)');
  }
}

function python() {
  for (const exe of ['python3', 'python']) {
    if (spawnSync(exe, ['--version'], { stdio: 'ignore' }).status === 0) return exe;
  }
  return undefined;
}

/** The wheel's `tensorflow` folder in `site` (a site-packages-like folder), or undefined. */
function wheelIn(site) {
  const dir = path.join(site, 'tensorflow');
  return fs.existsSync(path.join(dir, 'libtensorflow_cc.so.2')) ? dir : undefined;
}

function findWheel() {
  const fromEnv = process.env.RFTKIT_TF_DIR;
  if (fromEnv) {
    if (!fs.existsSync(path.join(fromEnv, 'libtensorflow_cc.so.2'))) {
      throw new Unavailable(`RFTKIT_TF_DIR=${fromEnv} has no libtensorflow_cc.so.2`);
    }
    return fromEnv;
  }
  const local = wheelIn(localWheelDir);
  if (local) return local;
  const py = python();
  if (!py) throw new Unavailable('no python3 to find or install the tensorflow-cpu wheel');
  // find_spec locates the package without importing it (importing TensorFlow takes seconds).
  const found = spawnSync(
    py,
    ['-c', "import importlib.util as u; s = u.find_spec('tensorflow'); print(s.submodule_search_locations[0] if s else '')"],
    { encoding: 'utf8' },
  );
  const dir = found.stdout?.trim();
  if (dir && fs.existsSync(path.join(dir, 'libtensorflow_cc.so.2'))) return dir;
  log(`no TensorFlow wheel found; installing ${TF_WHEEL} into ${path.relative(root, localWheelDir)}`);
  const pip = spawnSync(
    py,
    ['-m', 'pip', 'install', '--quiet', '--no-deps', '--target', localWheelDir, TF_WHEEL],
    { stdio: 'inherit' },
  );
  const installed = pip.status === 0 ? wheelIn(localWheelDir) : undefined;
  if (!installed) throw new Unavailable(`pip could not install ${TF_WHEEL} (no package index reachable?)`);
  return installed;
}

function wheelVersion(tfDir) {
  const site = path.dirname(tfDir);
  const info = fs
    .readdirSync(site)
    .find((f) => /^tensorflow(_cpu)?-[\d.]+.*\.dist-info$/.test(f));
  return info ? info.replace(/^tensorflow(_cpu)?-/, '').replace(/\.dist-info$/, '') : 'unknown version';
}

/** Replaces `link` with a symlink to `target` unless it already points there. */
function symlink(target, link) {
  try {
    if (fs.readlinkSync(link) === target) return;
  } catch {}
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync(target, link);
}

/**
 * Lays out deps/ as binding.gyp expects: deps/include (the C API headers) and deps/lib with
 * libtensorflow.so / libtensorflow_framework.so for the linker and the .so.2 names the
 * binding records (its rpath is $ORIGIN/../../deps/lib).
 */
function layOutDeps(pkgDir, tfDir) {
  const deps = path.join(pkgDir, 'deps');
  const lib = path.join(deps, 'lib');
  fs.mkdirSync(lib, { recursive: true });
  symlink(path.join(tfDir, 'include'), path.join(deps, 'include'));
  const cc = path.join(tfDir, 'libtensorflow_cc.so.2');
  const framework = path.join(tfDir, 'libtensorflow_framework.so.2');
  for (const name of ['libtensorflow.so', 'libtensorflow.so.2', 'libtensorflow_cc.so.2']) symlink(cc, path.join(lib, name));
  for (const name of ['libtensorflow_framework.so', 'libtensorflow_framework.so.2']) symlink(framework, path.join(lib, name));
}

/** Loads tfjs-node in a child process and multiplies two matrices on it. */
function check(pkgDir) {
  const script = `
    const tf = require(${JSON.stringify(pkgDir)});
    const a = tf.tensor2d([[1, 2], [3, 4]]);
    const b = tf.tensor2d([[5, 6], [7, 8]]);
    const got = Array.from(tf.matMul(a, b).dataSync());
    const want = [19, 22, 43, 50];
    if (tf.getBackend() !== 'tensorflow' || got.join() !== want.join()) {
      console.error('matmul on ' + tf.getBackend() + ' gave ' + got + ', want ' + want);
      process.exit(1);
    }
    console.log('tfjs-node ' + tf.version.tfjs + ' on the TensorFlow C API ' + tf.backend().binding.TF_Version + '; matmul checked');`;
  const run = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  const out = run.status === 0 ? run.stdout : `${run.stdout}\n${run.stderr}`;
  return { ok: run.status === 0, out: out.trim().split('\n').slice(-3).join('\n') };
}

function nodeGyp() {
  const require = createRequire(path.join(root, 'package.json'));
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    throw new Unavailable('node-gyp is not installed (run pnpm install --frozen-lockfile)');
  }
}

function build(pkgDir) {
  for (const tool of ['make', 'c++']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) {
      throw new Unavailable(`${tool} is not installed (node-gyp needs make and a C++ compiler)`);
    }
  }
  // Node's own headers, when installed beside the binary, spare node-gyp a download.
  const prefix = path.dirname(path.dirname(process.execPath));
  const nodedir = fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
  const jobs = process.env.RFTKIT_GYP_JOBS ?? String(Math.min(2, os.availableParallelism()));
  const gypArgs = [
    nodeGyp(),
    'rebuild',
    `-j`,
    jobs,
    ...nodedir,
    '--module_name=tfjs_binding',
    `--module_path=${path.join(pkgDir, 'lib', `napi-v${NAPI_VERSION}`)}`,
    `--napi_build_version=${NAPI_VERSION}`,
  ];
  log(`building the binding with node-gyp (-j ${jobs}; about 1 to 2 minutes)`);
  const started = Date.now();
  const run = spawnSync(process.execPath, gypArgs, { cwd: pkgDir, encoding: 'utf8' });
  if (run.status !== 0) {
    console.error(`${run.stdout}\n${run.stderr}`.trim().split('\n').slice(-40).join('\n'));
    throw new Error('node-gyp failed (its last lines are above)');
  }
  log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function main() {
  const pkgDir = tfjsNodeDir();
  const binding = path.join(pkgDir, 'lib', `napi-v${NAPI_VERSION}`, 'tfjs_binding.node');
  if (args.has('--check') || (fs.existsSync(binding) && !args.has('--force'))) {
    const result = fs.existsSync(binding) ? check(pkgDir) : { ok: false, out: 'not built' };
    if (result.ok) {
      log(`ready (${result.out})`);
      return 0;
    }
    if (args.has('--check')) {
      log(`not usable: ${result.out}`);
      return 1;
    }
    log(`the existing binding does not load (${result.out}); rebuilding`);
  }
  const tfDir = findWheel();
  log(`TensorFlow ${wheelVersion(tfDir)} from ${tfDir}`);
  layOutDeps(pkgDir, tfDir);
  build(pkgDir);
  const result = check(pkgDir);
  if (!result.ok) throw new Error(`the built binding failed its check:\n${result.out}`);
  log(`ready (${result.out})`);
  return 0;
}

try {
  process.exitCode = main();
} catch (e) {
  if (e instanceof Unavailable) {
    log(`unavailable: ${e.message}`);
    process.exitCode = 2;
  } else {
    log(`failed: ${e.message}`);
    process.exitCode = 1;
  }
}
