// This module is browser compatible.
//
// What the browser demo logs, shared by the page (page.ts) and the test that
// checks what reached the relay (tests/browser.test.ts).

/** The metric keys the page logs at every step. */
export const METRIC_KEYS: readonly string[] = ["train/loss", "train/accuracy"];

/** The key the page logs its image under. */
export const IMAGE_KEY = "samples/pattern";

/**
 * The metric values the page logs at a step.
 *
 * @param step The step.
 * @returns One value per key of {@linkcode METRIC_KEYS}.
 */
export function metricsAt(step: number): Record<string, number> {
  return {
    "train/loss": Math.exp(-step / 40) + 0.05 * Math.sin(step / 3),
    "train/accuracy": 1 - Math.exp(-step / 25),
  };
}

/**
 * A grey-level test pattern as nested arrays (`[row][column]`, integers in
 * [0, 255]): a checkerboard of 4-pixel squares over a diagonal gradient.
 *
 * @param size Width and height in pixels.
 * @returns The rows.
 */
export function patternImage(size: number): number[][] {
  const rows: number[][] = [];
  for (let y = 0; y < size; y++) {
    const row: number[] = [];
    for (let x = 0; x < size; x++) {
      const gradient = Math.round(((x + y) * 255) / (2 * (size - 1)));
      row.push(((x >> 2) + (y >> 2)) % 2 === 0 ? gradient : 255 - gradient);
    }
    rows.push(row);
  }
  return rows;
}
