// The CommonJS entry, require('ditcache'): the ES module itself, loaded by require(esm) (Node
// >= 20.19 and >= 22.12), so that import and require share one instance of the library: one
// addon, one Tensor class.
import ditcache = require('./index.js');
export = ditcache;
