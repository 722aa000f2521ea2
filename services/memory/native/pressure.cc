/*
 * V8's "low memory" collection for Node (Isolate::LowMemoryNotification): several full collections
 * that also shrink the young generation back to its initial size and unmap the pages V8 pooled for
 * reuse. `global.gc()` (--expose-gc) does a full collection only: after a busy spell the young
 * generation stays at its grown size (up to 2 x --max-semi-space-size) and freed pages stay pooled,
 * which the steady-load bench saw as idle RSS that never came down (docs/performance.md).
 */
#include <node_api.h>
#include <v8.h>

static napi_value js_low_memory(napi_env env, napi_callback_info info) {
  (void)info;
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->LowMemoryNotification();
  napi_value result;
  napi_get_boolean(env, isolate != nullptr, &result);
  return result;
}

extern "C" void register_pressure(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "lowMemory", NAPI_AUTO_LENGTH, js_low_memory, nullptr, &fn) == napi_ok)
    napi_set_named_property(env, exports, "lowMemory", fn);
}
