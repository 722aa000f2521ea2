/*
 * malloc_trim(3) for Node: glibc keeps freed heap memory (in every arena) for reuse, and Node
 * offers no way to hand it back. After a flood, the idle pbx calls trim() once: free pages in the
 * middle of the heaps are returned to the kernel (madvise), not only the top (M_TRIM_THRESHOLD).
 */
#include <malloc.h>
#include <node_api.h>

static napi_value js_trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, malloc_trim(0) == 1, &result);
  return result;
}

void register_pressure(napi_env env, napi_value exports); /* pressure.cc */

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, js_trim, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
  register_pressure(env, exports);
  return exports;
}
