import { readFileSync, readdirSync } from 'node:fs';

/** CPU seconds used so far, per part of the benchmark. */
export interface CpuReading {
  service: number;
  /** Every postgres process of the server, including backends that have exited since it started. */
  postgres: number;
  /** This process's children that have exited: the load generator (wrk) or pgbench of a finished round. */
  loadGenerator: number;
  /** This process: the provider stand-in and the event receiver. */
  standIns: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime, stime, cutime, cstime of a /proc/<pid>/stat line, in seconds. */
function times(stat: string): { own: number; children: number } {
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return { own: (fields[11]! + fields[12]!) / TICKS_PER_SECOND, children: (fields[13]! + fields[14]!) / TICKS_PER_SECOND };
}

/**
 * Reads the CPU time of the service, Postgres, the finished load generators and this process
 * from /proc (Linux); null elsewhere. Postgres counts its live processes and, through the
 * postmaster's children times, its backends that have ended (pgbench's connections end with it).
 * Read a load generator's time after it exited and was waited for.
 */
export function readCpu(servicePid: number | null): CpuReading | null {
  try {
    let postgres = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // the process ended meanwhile
      }
      if (!stat.includes('(postgres)')) continue;
      const t = times(stat);
      postgres += t.own + t.children;
    }
    const usage = process.cpuUsage();
    return {
      service: servicePid === null ? 0 : times(readFileSync(`/proc/${servicePid}/stat`, 'utf8')).own,
      postgres,
      loadGenerator: times(readFileSync('/proc/self/stat', 'utf8')).children,
      standIns: (usage.user + usage.system) / 1e6,
    };
  } catch {
    return null;
  }
}

/** CPU used between two readings, in µs per unit of work (a session, a transaction). */
export function cpuPerUnit(before: CpuReading | null, after: CpuReading | null, units: number): Record<keyof CpuReading, number> | null {
  if (!before || !after || units <= 0) return null;
  const per = (k: keyof CpuReading) => ((after[k] - before[k]) / units) * 1e6;
  return { service: per('service'), postgres: per('postgres'), loadGenerator: per('loadGenerator'), standIns: per('standIns') };
}
