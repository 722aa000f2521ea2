{
  "targets": [
    {
      "target_name": "fax_modem",
      "sources": ["fax_napi.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-lspandsp", "-ltiff"]
    }
  ]
}
