{
  "targets": [
    {
      "target_name": "media_relay",
      "sources": ["relay_core.c", "relay_napi.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-lpthread"]
    }
  ]
}
