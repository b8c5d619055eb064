// The shared library's own translation unit: libditcache is the static core, whole, exported
// through the DC_API visibility attributes of ditcache.h.
#include "ditcache.h"
