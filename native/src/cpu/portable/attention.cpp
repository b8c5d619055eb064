// The fused attention kernel compiled for this folder's instruction set.
#include "../impl/attention_kernel.h"
