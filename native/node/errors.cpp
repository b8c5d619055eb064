#include "errors.h"

namespace dcnode {

Napi::Error status_error(Napi::Env env, dc_status status, const char* message) {
  Napi::Error err;
  switch (status) {
    case DC_ERR_INVALID_ARGUMENT:
    case DC_ERR_DTYPE:
      err = Napi::TypeError::New(env, message);
      break;
    case DC_ERR_SHAPE:
    case DC_ERR_RANGE:
      err = Napi::RangeError::New(env, message);
      break;
    default:
      err = Napi::Error::New(env, message);
  }
  static const char* const codes[] = {"DC_OK",          "DC_ERR_INVALID_ARGUMENT", "DC_ERR_DTYPE",
                                      "DC_ERR_SHAPE",   "DC_ERR_RANGE",            "DC_ERR_OUT_OF_MEMORY",
                                      "DC_ERR_UNAVAILABLE", "DC_ERR_DEVICE",       "DC_ERR_INTERNAL"};
  const int i = int(status);
  err.Set("code", Napi::String::New(env, i >= 0 && i <= 8 ? codes[i] : "DC_ERR_UNKNOWN"));
  return err;
}

}  // namespace dcnode
