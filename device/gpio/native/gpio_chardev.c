// The Linux GPIO character device, uAPI v2 (linux/gpio.h, kernel >= 5.10), for the front panel:
// chip info, a line request (inputs with bias/debounce, outputs with initial values), get/set of
// values. Errors come back as JS exceptions carrying errno's text and code; nothing aborts.
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static napi_value fail(napi_env env, const char *what, int err) {
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  char code[32];
  snprintf(code, sizeof code, "E%d", err);
  napi_throw_error(env, err == ENOENT ? "ENOENT" : err == EACCES ? "EACCES" : err == EBUSY ? "EBUSY" : err == ENOTTY ? "ENOTTY" : err == EINVAL ? "EINVAL" : code, msg);
  return NULL;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t len) {
  size_t got = 0;
  return napi_get_value_string_utf8(env, v, buf, len, &got) == napi_ok ? 0 : -1;
}

// chipInfo(path) -> { name, label, lines }
static napi_value chip_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[256];
  if (argc < 1 || get_string(env, argv[0], path, sizeof path) != 0) return fail(env, "chipInfo(path)", EINVAL);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return fail(env, path, errno);
  struct gpiochip_info ci;
  memset(&ci, 0, sizeof ci);
  if (ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, &ci) < 0) {
    int e = errno;
    close(fd);
    return fail(env, "GPIO_GET_CHIPINFO_IOCTL (not a GPIO chip?)", e);
  }
  close(fd);
  napi_value out, name, label, lines;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, ci.name, strnlen(ci.name, sizeof ci.name), &name);
  napi_create_string_utf8(env, ci.label, strnlen(ci.label, sizeof ci.label), &label);
  napi_create_uint32(env, ci.lines, &lines);
  napi_set_named_property(env, out, "name", name);
  napi_set_named_property(env, out, "label", label);
  napi_set_named_property(env, out, "lines", lines);
  return out;
}

// requestLines(path, offsets[], flags, consumer, outputBits, debounceUs) -> line fd
// flags: the GPIO_V2_LINE_FLAG_* bits (< 2^32 for what we use); outputBits: initial values, bit i for offsets[i].
static napi_value request_lines(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) return fail(env, "requestLines(path, offsets, flags, consumer, outputBits, debounceUs)", EINVAL);
  char path[256], consumer[GPIO_MAX_NAME_SIZE];
  if (get_string(env, argv[0], path, sizeof path) != 0 || get_string(env, argv[3], consumer, sizeof consumer) != 0) return fail(env, "requestLines: path/consumer", EINVAL);
  uint32_t n = 0, flags = 0, bits = 0, debounce = 0;
  napi_get_array_length(env, argv[1], &n);
  if (n == 0 || n > 32) return fail(env, "requestLines: 1 to 32 offsets", EINVAL);
  napi_get_value_uint32(env, argv[2], &flags);
  napi_get_value_uint32(env, argv[4], &bits);
  napi_get_value_uint32(env, argv[5], &debounce);
  struct gpio_v2_line_request req;
  memset(&req, 0, sizeof req);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, argv[1], i, &e);
    napi_get_value_uint32(env, e, &req.offsets[i]);
  }
  req.num_lines = n;
  memcpy(req.consumer, consumer, strnlen(consumer, sizeof req.consumer - 1));
  req.config.flags = flags;
  uint32_t a = 0;
  if (flags & GPIO_V2_LINE_FLAG_OUTPUT) {
    req.config.attrs[a].attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
    req.config.attrs[a].attr.values = bits;
    req.config.attrs[a].mask = (n == 32) ? 0xffffffffull : ((1ull << n) - 1);
    a++;
  }
  if (debounce > 0) {
    req.config.attrs[a].attr.id = GPIO_V2_LINE_ATTR_ID_DEBOUNCE;
    req.config.attrs[a].attr.debounce_period_us = debounce;
    req.config.attrs[a].mask = (n == 32) ? 0xffffffffull : ((1ull << n) - 1);
    a++;
  }
  req.config.num_attrs = a;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return fail(env, path, errno);
  if (ioctl(fd, GPIO_V2_GET_LINE_IOCTL, &req) < 0) {
    int e = errno;
    close(fd);
    return fail(env, "GPIO_V2_GET_LINE_IOCTL", e);
  }
  close(fd);  // the line fd lives on its own
  napi_value out;
  napi_create_int32(env, req.fd, &out);
  return out;
}

// getValues(lineFd, mask) -> bits
static napi_value get_values(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  uint32_t mask = 0;
  napi_get_value_int32(env, argv[0], &fd);
  napi_get_value_uint32(env, argv[1], &mask);
  struct gpio_v2_line_values v = { .bits = 0, .mask = mask };
  if (ioctl(fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &v) < 0) return fail(env, "GPIO_V2_LINE_GET_VALUES_IOCTL", errno);
  napi_value out;
  napi_create_uint32(env, (uint32_t)v.bits, &out);
  return out;
}

// setValues(lineFd, mask, bits)
static napi_value set_values(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  uint32_t mask = 0, bits = 0;
  napi_get_value_int32(env, argv[0], &fd);
  napi_get_value_uint32(env, argv[1], &mask);
  napi_get_value_uint32(env, argv[2], &bits);
  struct gpio_v2_line_values v = { .bits = bits, .mask = mask };
  if (ioctl(fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &v) < 0) return fail(env, "GPIO_V2_LINE_SET_VALUES_IOCTL", errno);
  return NULL;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  napi_get_value_int32(env, argv[0], &fd);
  if (fd >= 0) close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "chipInfo", NULL, chip_info, NULL, NULL, NULL, napi_default, NULL },
    { "requestLines", NULL, request_lines, NULL, NULL, NULL, napi_default, NULL },
    { "getValues", NULL, get_values, NULL, NULL, NULL, napi_default, NULL },
    { "setValues", NULL, set_values, NULL, NULL, NULL, napi_default, NULL },
    { "close", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
