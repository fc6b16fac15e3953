// Test helper: the metric values of the backend conformance suite's replay
// scenario, shared by the suite and its child process
// (tests/helpers/conformance_child.ts). Not plain integers, so a backend
// that rounds or re-formats floats is caught.

/**
 * The `loss` logged at a step.
 *
 * @param step The step.
 * @returns The value.
 */
export function replayLoss(step: number): number {
  return 1 / (step + 3) + step * 1e-7;
}

/**
 * The `eval/acc` logged at a step.
 *
 * @param step The step.
 * @returns The value.
 */
export function replayAccuracy(step: number): number {
  return Math.sin(step + 0.5) / 3;
}
