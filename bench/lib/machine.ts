// What the figures were measured on.
import { cpus, totalmem, release, platform, arch, hostname, loadavg } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string | null;
  /** 1-minute load average when the run started. */
  loadAverage1m: number;
  /** 1-minute load average when the run ended. */
  loadAverage1mEnd?: number;
  hostname: string;
}

export function machineInfo(postgres: string | null): MachineInfo {
  const c = cpus();
  return {
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    postgres,
    loadAverage1m: Math.round(loadavg()[0] * 100) / 100,
    hostname: hostname(),
  };
}
