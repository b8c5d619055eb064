// A CommonJS consumer: require('ditcache') is the same library as the ES module.
const ditcache = require('ditcache');

const x = ditcache.tensor(new Float32Array([3, 1, 2]), [3]);
if (!(x instanceof ditcache.Tensor) || typeof ditcache.generateSteps !== 'function' || !ditcache.PRESET_NAMES.includes('adacache-fast')) {
  throw new Error('require(ditcache) is missing its exports');
}
console.log(`cjs: ditcache ${ditcache.runtime.version()}, build ${ditcache.runtime.buildInfo()}`);
x.dispose();
