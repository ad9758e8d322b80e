/**
 * One abort signal for a provider call: it fires when `timeoutMs` runs out or when the caller's
 * `signal` (shutdown) fires. Call `done()` when the call ends, so the timer and the listener go
 * with it. (AbortSignal.timeout() keeps its timer to the end and then raises a TimeoutError
 * nobody listens to: under load that was a tenth of the dispatcher's CPU.)
 */
export function deadline(timeoutMs: number, signal?: AbortSignal): { signal: AbortSignal; timedOut: () => boolean; done: () => void } {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const cancel = () => controller.abort();
  if (signal?.aborted) cancel();
  else signal?.addEventListener('abort', cancel, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    done: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', cancel);
    },
  };
}
