/**
 * The environment a test or bench gives the pbx (or the whole appliance): its data dir, SIP (UDP and
 * TCP) on `sipPort`, and every other listener (TLS, WS, WSS, HTTP) on a port the kernel picks, so
 * runs in parallel never meet on a fixed well-known port. Callers add PBX_BIND and the rest.
 */
import path from 'node:path';

export function pbxListenEnv(dataDir: string, sipPort: number): Record<string, string> {
  return {
    PBX_DATA_DIR: dataDir,
    PBX_SIP_PORT: String(sipPort),
    PBX_SIP_TLS_PORT: '0',
    PBX_SIP_WS_PORT: '0',
    PBX_SIP_WSS_PORT: '0',
    PBX_HTTP_PORT: '0',
  };
}

/** The whole appliance under its supervisor (pm2) on loopback: pm2's home inside the data dir. */
export function applianceEnv(dataDir: string, sipPort: number): Record<string, string> {
  return { ...pbxListenEnv(dataDir, sipPort), PM2_HOME: path.join(dataDir, 'pm2'), PBX_BIND: '127.0.0.1' };
}
