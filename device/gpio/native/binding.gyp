{
  "targets": [
    {
      "target_name": "gpio_chardev",
      "sources": ["gpio_chardev.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    }
  ]
}
