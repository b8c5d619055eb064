// The portable row-wise and metric kernels.
#include "../impl/metrics.h"
#include "../impl/rowwise.h"
