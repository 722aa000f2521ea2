/**
 * Where the analog board's tty is: `PBX_SERIAL` when set; else, in simulation, the host end of the
 * virtual board's pty pair in the data dir; on the appliance, /dev/ttyACM0 (the board's USB-ACM).
 */
import path from 'node:path';

export interface SerialPathConfig {
  dataDir: string;
  simulation: boolean;
}

export function simulatedTtyPath(dataDir: string): string {
  return path.join(dataDir, 'sim', 'ttyACM0');
}

export function boardSerialPath(config: SerialPathConfig, env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.PBX_SERIAL;
  if (explicit !== undefined && explicit !== '') return explicit;
  return config.simulation ? simulatedTtyPath(config.dataDir) : '/dev/ttyACM0';
}

/** The virtual board's control socket (pbxctl sim). */
export function simControlSocket(dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.PBX_SIM_SOCKET;
  return explicit !== undefined && explicit !== '' ? explicit : path.join(dataDir, 'board-sim.sock');
}
