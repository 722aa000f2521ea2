{
  "targets": [
    {
      "target_name": "malloc_trim",
      "sources": ["trim.c", "pressure.cc"],
      "cflags_cc": ["-O2", "-Wall", "-Wextra", "-std=gnu++17"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
