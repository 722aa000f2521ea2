// Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999): removes every 0x00 from a frame so
// that 0x00 can delimit frames on the wire. Overhead: 1 byte per 254, so an audio frame (≤ 170
// bytes) always costs exactly one extra byte plus the delimiter.

export function cobsEncode(input: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(input.length + Math.ceil(input.length / 254) + 1);
  let codeIndex = 0;
  let code = 1;
  let o = 1;
  for (let i = 0; i < input.length; i++) {
    const b = input[i] as number;
    if (b === 0) {
      out[codeIndex] = code;
      codeIndex = o++;
      code = 1;
    } else {
      out[o++] = b;
      code++;
      if (code === 0xff) {
        out[codeIndex] = code;
        codeIndex = o++;
        code = 1;
      }
    }
  }
  out[codeIndex] = code;
  return out.subarray(0, o);
}

/** The decoded bytes, or null when the input is not valid COBS (a zero inside, a code past the end). */
export function cobsDecode(input: Uint8Array): Buffer | null {
  const out = Buffer.allocUnsafe(input.length);
  let i = 0;
  let o = 0;
  while (i < input.length) {
    const code = input[i] as number;
    if (code === 0) return null;
    if (i + code > input.length) return null;
    for (let k = 1; k < code; k++) {
      const b = input[i + k] as number;
      if (b === 0) return null;
      out[o++] = b;
    }
    i += code;
    if (code < 0xff && i < input.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}
