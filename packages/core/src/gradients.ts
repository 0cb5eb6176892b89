// tfjs-core registers no gradient functions by itself; this module does, once. The
// build bundles tfjs-core's gradient registrations into this file (their ESM sources do
// not load under plain Node), and registries are global, so one import serves all.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
