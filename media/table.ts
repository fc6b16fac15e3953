// This module is browser compatible.
import {
  type EncodedMedia,
  MEDIA_VALUE,
  type MediaValue,
} from "./media_value.ts";
import { isPlainObject, jsonBytes, show } from "./_json.ts";

/** What a {@linkcode Table} cell may hold. Numbers must be finite. */
export type TableCell = string | number | boolean | null;

/** A table given as column names and rows of cells. */
export interface TableColumnsInput {
  /** The column names; they must be unique. */
  columns: string[];
  /** The rows; each has one cell per column. */
  rows: unknown[][];
}

/**
 * The input of a {@linkcode Table}: columns and rows, or records (one
 * object per row, keyed by column name).
 */
export type TableInput = TableColumnsInput | Record<string, unknown>[];

const ACTION = "Cannot create Table";

/**
 * A table of scalar cells, such as per-example predictions.
 *
 * Records become columns (the union of their keys, in first-seen order)
 * and rows; a key missing from a record gives `null`. Cells are strings,
 * finite numbers, booleans or `null`.
 *
 * `encode()` gives JSON (`application/json`, `.json`): `{ columns, rows }`,
 * with metadata `{ columns: <count>, rows: <count> }`. {@linkcode Table.toCsv}
 * gives CSV.
 *
 * @example From records with a missing key
 * ```ts
 * import { Table } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const table = new Table([{ id: 1, label: "cat" }, { id: 2, score: 0.5 }]);
 * const json = JSON.parse(new TextDecoder().decode((await table.encode()).data));
 * assert.deepEqual(json, {
 *   columns: ["id", "label", "score"],
 *   rows: [[1, "cat", null], [2, null, 0.5]],
 * });
 * assert.equal(table.toCsv(), "id,label,score\r\n1,cat,\r\n2,,0.5\r\n");
 * ```
 */
export class Table implements MediaValue {
  /** The media brand: always `true`. */
  readonly [MEDIA_VALUE]: true = true;
  /** Always `"table"`. */
  readonly mediaType: "table" = "table";
  #columns: string[];
  #rows: TableCell[][];

  /**
   * Creates a table; columns, rows and records are copied.
   *
   * @param input Columns and rows, or an array of records.
   * @throws {TypeError} When the input has the wrong shape or a cell is not a string, finite number, boolean or null; the message names the row and column.
   * @throws {RangeError} When a column name repeats or a row's length differs from the number of columns.
   */
  constructor(input: TableInput) {
    if (Array.isArray(input)) {
      const table = fromRecords(input);
      this.#columns = table.columns;
      this.#rows = table.rows;
    } else if (isPlainObject(input)) {
      this.#columns = readColumns(input.columns);
      this.#rows = readRows(input.rows, this.#columns);
    } else {
      throw new TypeError(
        `${ACTION} as 'input' must be an object of columns and rows or an array of records: current value is ${
          show(input)
        }`,
      );
    }
  }

  /**
   * Writes the table as CSV (RFC 4180): a header line of column names, then
   * one line per row, each line ending in CRLF. A field is quoted when it
   * holds a comma, a double quote (doubled inside), CR or LF, and an empty
   * string is written `""` so that it differs from `null` (an empty field).
   * Numbers are written as `String(n)`, booleans as `true`/`false`.
   *
   * @returns The CSV text.
   *
   * @example Quote the fields that need it
   * ```ts
   * import { Table } from "@uetai/uetai/media";
   * import assert from "node:assert/strict";
   * const table = new Table({ columns: ["text", "ok"], rows: [['say "hi", then go', true], ["", null]] });
   * assert.equal(table.toCsv(), 'text,ok\r\n"say ""hi"", then go",true\r\n"",\r\n');
   * ```
   */
  toCsv(): string {
    return tableToCsv(this.#columns, this.#rows);
  }

  /**
   * Encodes the table as JSON `{ columns, rows }`.
   *
   * @returns An `application/json` file with extension `json`.
   */
  encode(): Promise<EncodedMedia> {
    return Promise.resolve({
      mediaType: this.mediaType,
      contentType: "application/json",
      extension: "json",
      data: jsonBytes({ columns: this.#columns, rows: this.#rows }),
      metadata: { columns: this.#columns.length, rows: this.#rows.length },
    });
  }
}

/**
 * Writes columns and rows as CSV (RFC 4180: CRLF line ends, fields quoted
 * where needed, `null` as an empty field).
 *
 * @param columns Column names.
 * @param rows Rows of cells.
 * @returns The CSV text.
 *
 * @example
 * ```ts
 * import { tableToCsv } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * assert.equal(tableToCsv(["a", "b"], [[1, "x,y"], [2, null]]), 'a,b\r\n1,"x,y"\r\n2,\r\n');
 * ```
 */
export function tableToCsv(
  columns: readonly string[],
  rows: readonly (readonly TableCell[])[],
): string {
  const lines = [columns.map(csvField).join(",")];
  for (const row of rows) lines.push(row.map(csvField).join(","));
  return lines.join("\r\n") + "\r\n";
}

function csvField(cell: TableCell): string {
  if (cell === null) return "";
  const text = String(cell);
  if (text === "" || /[",\r\n]/.test(text)) {
    return `"${text.replaceAll('"', '""')}"`;
  }
  return text;
}

function readCell(value: unknown, row: number, column: string): TableCell {
  if (
    value === null || typeof value === "string" ||
    typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value))
  ) {
    return value;
  }
  throw new TypeError(
    `${ACTION} as the cell at row ${row}, column ${
      JSON.stringify(column)
    } must be a string, finite number, boolean or null: current value is ${
      show(value)
    }`,
  );
}

function readColumns(value: unknown): string[] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${ACTION} as 'columns' must be an array of strings: current value is ${
        show(value)
      }`,
    );
  }
  const seen = new Set<string>();
  return value.map((name: unknown, index) => {
    if (typeof name !== "string") {
      throw new TypeError(
        `${ACTION} as 'columns[${index}]' must be a string: current value is ${
          show(name)
        }`,
      );
    }
    if (seen.has(name)) {
      throw new RangeError(
        `${ACTION} as 'columns[${index}]' must be unique: current value is ${
          show(name)
        }, already an earlier column`,
      );
    }
    seen.add(name);
    return name;
  });
}

function readRows(value: unknown, columns: string[]): TableCell[][] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${ACTION} as 'rows' must be an array of arrays: current value is ${
        show(value)
      }`,
    );
  }
  return value.map((row: unknown, index) => {
    if (!Array.isArray(row)) {
      throw new TypeError(
        `${ACTION} as 'rows[${index}]' must be an array of cells: current value is ${
          show(row)
        }`,
      );
    }
    if (row.length !== columns.length) {
      throw new RangeError(
        `${ACTION} as 'rows[${index}]' must have ${columns.length} cells, one per column: current length is ${row.length}`,
      );
    }
    return columns.map((column, at) => readCell(row[at], index, column));
  });
}

function fromRecords(
  records: unknown[],
): { columns: string[]; rows: TableCell[][] } {
  const columns: string[] = [];
  const seen = new Set<string>();
  records.forEach((record, index) => {
    if (!isPlainObject(record)) {
      throw new TypeError(
        `${ACTION} as 'records[${index}]' must be a plain object: current value is ${
          show(record)
        }`,
      );
    }
    for (const key of Object.keys(record)) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
  });
  const rows = (records as Record<string, unknown>[]).map((record, index) =>
    columns.map((column) =>
      Object.hasOwn(record, column)
        ? readCell(record[column], index, column)
        : null
    )
  );
  return { columns, rows };
}
