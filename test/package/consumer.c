/* A C consumer linked through pkg-config against the installed libditcache. */
#include <stdio.h>

#include <ditcache.h>

int main(void) {
  const int64_t shape[2] = {2, 3};
  dc_tensor* t = NULL;
  dc_tensor_desc desc = dc_tensor_desc_init();
  if (dc_tensor_zeros(DC_F32, DC_DEVICE_CPU, 2, shape, &t) != DC_OK || dc_tensor_describe(t, &desc) != DC_OK) {
    fprintf(stderr, "c: %s\n", dc_last_error());
    return 1;
  }
  printf("c: libditcache %s, a [%lld, %lld] tensor of %lld elements\n", dc_version_string(), (long long)desc.shape[0],
         (long long)desc.shape[1], (long long)desc.numel);
  dc_tensor_release(t);
  return 0;
}
