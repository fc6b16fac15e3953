import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isMediaValue, type MediaValue } from "../media/media_value.ts";
import { Text } from "../media/text.ts";
import { Html } from "../media/html.ts";
import { Graph } from "../media/graph.ts";
import { Table } from "../media/table.ts";
import { Histogram } from "../media/histogram.ts";
import { ConfusionMatrix } from "../media/confusion_matrix.ts";
import { Curve, prCurve, rocCurve } from "../media/curve.ts";

// ---------------------------------------------------------------------------
// Helpers

async function decodeText(value: MediaValue): Promise<string> {
  return new TextDecoder().decode((await value.encode()).data);
}

async function decodeJson(value: MediaValue): Promise<unknown> {
  return JSON.parse(await decodeText(value));
}

/** Asserts `fn` throws `type` and that the message matches every pattern. */
function throwsNaming(
  fn: () => unknown,
  type: typeof TypeError | typeof RangeError,
  ...patterns: (string | RegExp)[]
): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(
      error instanceof type,
      `expected ${type.name}, got ${String(error)}`,
    );
    for (const pattern of patterns) {
      if (typeof pattern === "string") {
        assert.ok(
          error.message.includes(pattern),
          `message ${JSON.stringify(error.message)} lacks ${
            JSON.stringify(pattern)
          }`,
        );
      } else {
        assert.match(error.message, pattern);
      }
    }
    return true;
  });
}

function assertClose(actual: number, expected: number): void {
  assert.ok(
    Math.abs(actual - expected) < 1e-12,
    `expected ${expected}, got ${actual}`,
  );
}

// ---------------------------------------------------------------------------

describe("media values", () => {
  it("every type carries the media brand", () => {
    const values: MediaValue[] = [
      new Text("a"),
      new Html("<p>"),
      new Graph("g"),
      new Table({ columns: [], rows: [] }),
      new Histogram({ values: [1] }),
      new ConfusionMatrix({ matrix: [[1]] }),
      new Curve({ name: "c", x: [0], y: [0] }),
    ];
    for (const value of values) assert.ok(isMediaValue(value));
    assert.deepEqual(values.map((value) => value.mediaType), [
      "text",
      "html",
      "graph",
      "table",
      "histogram",
      "confusion_matrix",
      "curve",
    ]);
  });
});

describe("Text", () => {
  it("Text.encode() gives UTF-8 text/plain with the metadata and length", async () => {
    const text = "héllo 👋";
    const encoded = await new Text(text, {
      metadata: { epoch: 2, tags: ["a"] },
    })
      .encode();
    assert.equal(encoded.mediaType, "text");
    assert.equal(encoded.contentType, "text/plain");
    assert.equal(encoded.extension, "txt");
    assert.deepEqual(encoded.data, new TextEncoder().encode(text));
    assert.deepEqual(encoded.metadata, { epoch: 2, tags: ["a"], length: 8 });
  });

  it("Text.encode() without options has only the length", async () => {
    const encoded = await new Text("").encode();
    assert.equal(encoded.data.length, 0);
    assert.deepEqual(encoded.metadata, { length: 0 });
  });

  it("Text names bad input in its error", () => {
    throwsNaming(
      () => new Text(42 as unknown as string),
      TypeError,
      "'text'",
      "42",
    );
    throwsNaming(
      () => new Text("a", { metadata: [] as unknown as Record<string, never> }),
      TypeError,
      "'metadata'",
      "an array",
    );
    throwsNaming(
      () => new Text("a", { metadata: { a: { b: undefined } } }),
      TypeError,
      "'metadata.a.b'",
      "undefined",
    );
    throwsNaming(
      () => new Text("a", { metadata: { list: [1, NaN] } }),
      TypeError,
      "'metadata.list[1]'",
      "NaN",
    );
    throwsNaming(
      () => new Text("a", { metadata: { length: 3 } }),
      RangeError,
      '"length"',
    );
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    throwsNaming(
      () => new Text("a", { metadata: cyclic }),
      TypeError,
      "'metadata.self'",
      "refers to itself",
    );
  });

  it("Text ignores mutation of the metadata after construction", async () => {
    const metadata = { nested: { n: 1 } };
    const text = new Text("a", { metadata });
    metadata.nested.n = 2;
    (metadata as Record<string, unknown>).extra = true;
    const first = await text.encode();
    assert.deepEqual(first.metadata, { nested: { n: 1 }, length: 1 });
    (first.metadata.nested as { n: number }).n = 3;
    first.data[0] = 0;
    const second = await text.encode();
    assert.deepEqual(second.metadata, { nested: { n: 1 }, length: 1 });
    assert.deepEqual(second.data, new TextEncoder().encode("a"));
  });
});

describe("Html", () => {
  it("Html.encode() gives UTF-8 text/html", async () => {
    const encoded = await new Html("<p>ü</p>").encode();
    assert.equal(encoded.mediaType, "html");
    assert.equal(encoded.contentType, "text/html");
    assert.equal(encoded.extension, "html");
    assert.equal(new TextDecoder().decode(encoded.data), "<p>ü</p>");
    assert.deepEqual(encoded.metadata, { length: 8 });
  });

  it("Html names bad input in its error", () => {
    throwsNaming(
      () => new Html(null as unknown as string),
      TypeError,
      "'html'",
      "null",
    );
  });
});

describe("Graph", () => {
  it("Graph.encode() keeps a text graph as { text }", async () => {
    const text = "Sequential(\n  (0): Linear(in=4, out=2)\n)";
    const graph = new Graph(text);
    const encoded = await graph.encode();
    assert.equal(encoded.mediaType, "graph");
    assert.equal(encoded.contentType, "application/json");
    assert.equal(encoded.extension, "json");
    assert.deepEqual(encoded.metadata, { format: "text" });
    assert.deepEqual(JSON.parse(new TextDecoder().decode(encoded.data)), {
      text,
    });
    assert.equal(graph.text, text);
  });

  it("Graph.encode() renders a structure to DOT and JSON", async () => {
    const graph = new Graph({
      nodes: [
        { id: "x" },
        { id: "fc1", label: "Hidden", op: "Linear" },
        { id: "out", op: "Softmax" },
      ],
      edges: [{ from: "x", to: "fc1" }, { from: "fc1", to: "out" }],
    });
    const dot = [
      "digraph {",
      '  "x" [label="x"];',
      '  "fc1" [label="Hidden", op="Linear"];',
      '  "out" [label="out", op="Softmax"];',
      '  "x" -> "fc1";',
      '  "fc1" -> "out";',
      "}",
    ].join("\n");
    assert.equal(graph.text, dot);
    const encoded = await graph.encode();
    assert.deepEqual(encoded.metadata, { format: "dot", nodes: 3, edges: 2 });
    assert.deepEqual(JSON.parse(new TextDecoder().decode(encoded.data)), {
      text: dot,
      nodes: [
        { id: "x" },
        { id: "fc1", label: "Hidden", op: "Linear" },
        { id: "out", op: "Softmax" },
      ],
      edges: [{ from: "x", to: "fc1" }, { from: "fc1", to: "out" }],
    });
  });

  it("Graph escapes quotes, backslashes and line breaks in DOT", () => {
    const graph = new Graph({
      nodes: [{ id: 'a"b', label: "two\nlines \\ end" }],
      edges: [],
    });
    assert.equal(
      graph.text,
      'digraph {\n  "a\\"b" [label="two\\nlines \\\\ end"];\n}',
    );
  });

  it("Graph names bad input in its error", () => {
    throwsNaming(
      () => new Graph(7 as unknown as string),
      TypeError,
      "'input'",
      "7",
    );
    throwsNaming(
      () => new Graph({ edges: [] } as unknown as { nodes: []; edges: [] }),
      TypeError,
      "'nodes'",
      "undefined",
    );
    throwsNaming(
      () =>
        new Graph(
          { nodes: [{ id: "a" }] } as unknown as { nodes: []; edges: [] },
        ),
      TypeError,
      "'edges'",
      "undefined",
    );
    throwsNaming(
      () => new Graph({ nodes: [{ id: 1 as unknown as string }], edges: [] }),
      TypeError,
      "'nodes[0].id'",
      "1",
    );
    throwsNaming(
      () => new Graph({ nodes: [{ id: "" }], edges: [] }),
      RangeError,
      "'nodes[0].id'",
      "empty",
    );
    throwsNaming(
      () => new Graph({ nodes: [{ id: "a" }, { id: "a" }], edges: [] }),
      RangeError,
      "'nodes[1].id'",
      '"a"',
      "unique",
    );
    throwsNaming(
      () =>
        new Graph({
          nodes: [{ id: "a", op: 3 as unknown as string }],
          edges: [],
        }),
      TypeError,
      "'nodes[0].op'",
      "3",
    );
    throwsNaming(
      () =>
        new Graph({
          nodes: [{ id: "a" }, { id: "b" }],
          edges: [{ from: "a", to: "b" }, { from: "a", to: "c" }],
        }),
      RangeError,
      "'edges[1].to'",
      '"c"',
    );
    throwsNaming(
      () => new Graph({ nodes: [{ id: "a" }], edges: ["a->a" as never] }),
      TypeError,
      "'edges[0]'",
      '"a->a"',
    );
  });

  it("Graph ignores mutation of the structure after construction", async () => {
    const nodes = [{ id: "a", label: "A" }, { id: "b" }];
    const edges = [{ from: "a", to: "b" }];
    const graph = new Graph({ nodes, edges });
    const before = await decodeJson(graph);
    nodes[0].label = "changed";
    nodes.push({ id: "c" });
    edges[0].to = "a";
    edges.length = 0;
    assert.deepEqual(await decodeJson(graph), before);
    assert.equal(
      graph.text,
      'digraph {\n  "a" [label="A"];\n  "b" [label="b"];\n  "a" -> "b";\n}',
    );
  });
});

describe("Table", () => {
  it("Table.encode() gives { columns, rows } as JSON", async () => {
    const table = new Table({
      columns: ["id", "pred", "ok"],
      rows: [[1, "cat", true], [2, null, false]],
    });
    const encoded = await table.encode();
    assert.equal(encoded.mediaType, "table");
    assert.equal(encoded.contentType, "application/json");
    assert.equal(encoded.extension, "json");
    assert.deepEqual(encoded.metadata, { columns: 3, rows: 2 });
    assert.deepEqual(JSON.parse(new TextDecoder().decode(encoded.data)), {
      columns: ["id", "pred", "ok"],
      rows: [[1, "cat", true], [2, null, false]],
    });
  });

  it("Table from records takes the union of keys in first-seen order, missing keys as null", async () => {
    const table = new Table([
      { b: 1, a: "x" },
      { c: true },
      { a: "y", d: null, b: 2 },
      {},
    ]);
    assert.deepEqual(await decodeJson(table), {
      columns: ["b", "a", "c", "d"],
      rows: [
        [1, "x", null, null],
        [null, null, true, null],
        [2, "y", null, null],
        [null, null, null, null],
      ],
    });
    assert.deepEqual(await decodeJson(new Table([])), {
      columns: [],
      rows: [],
    });
  });

  it("Table.toCsv() quotes fields by RFC 4180", () => {
    const table = new Table({
      columns: ["text", "n", "flag", 'say "x"'],
      rows: [
        ["plain", 1.5, true, null],
        ["a,b", -2, false, ""],
        ['he said "hi"', 0, null, "line\nbreak"],
        ["cr\rhere", 1e21, true, "crlf\r\nend"],
      ],
    });
    assert.equal(
      table.toCsv(),
      'text,n,flag,"say ""x"""\r\n' +
        "plain,1.5,true,\r\n" +
        '"a,b",-2,false,""\r\n' +
        '"he said ""hi""",0,,"line\nbreak"\r\n' +
        '"cr\rhere",1e+21,true,"crlf\r\nend"\r\n',
    );
    assert.equal(new Table({ columns: [], rows: [] }).toCsv(), "\r\n");
  });

  it("Table names bad input in its error", () => {
    throwsNaming(
      () => new Table("a,b" as never),
      TypeError,
      "'input'",
      '"a,b"',
    );
    throwsNaming(
      () => new Table({ columns: "a" as never, rows: [] }),
      TypeError,
      "'columns'",
      '"a"',
    );
    throwsNaming(
      () => new Table({ columns: ["a", 2 as never], rows: [] }),
      TypeError,
      "'columns[1]'",
      "2",
    );
    throwsNaming(
      () => new Table({ columns: ["a", "a"], rows: [] }),
      RangeError,
      "'columns[1]'",
      '"a"',
    );
    throwsNaming(
      () => new Table({ columns: ["a"], rows: {} as never }),
      TypeError,
      "'rows'",
      "an object",
    );
    throwsNaming(
      () => new Table({ columns: ["a"], rows: [[1], "x" as never] }),
      TypeError,
      "'rows[1]'",
      '"x"',
    );
    throwsNaming(
      () => new Table({ columns: ["a", "b"], rows: [[1, 2], [3]] }),
      RangeError,
      "'rows[1]'",
      "2 cells",
      "current length is 1",
    );
    throwsNaming(
      () => new Table({ columns: ["a", "b"], rows: [[1, { x: 1 }]] }),
      TypeError,
      'row 0, column "b"',
      "an object",
    );
    throwsNaming(
      () => new Table({ columns: ["a"], rows: [[1], [NaN]] }),
      TypeError,
      'row 1, column "a"',
      "NaN",
    );
    throwsNaming(
      () => new Table([{ a: 1 }, { a: undefined }]),
      TypeError,
      'row 1, column "a"',
      "undefined",
    );
    throwsNaming(
      () => new Table([{ a: 1 }, { when: new Date(0) }]),
      TypeError,
      'row 1, column "when"',
      "an instance of Date",
    );
    throwsNaming(
      () => new Table([{ a: 1 }, [1, 2] as never]),
      TypeError,
      "'records[1]'",
      "an array",
    );
  });

  it("Table ignores mutation of columns, rows and records after construction", async () => {
    const columns = ["a", "b"];
    const rows: unknown[][] = [[1, 2]];
    const fromRows = new Table({ columns, rows });
    columns[0] = "z";
    rows[0][1] = "changed";
    rows.push([3, 4]);
    assert.deepEqual(await decodeJson(fromRows), {
      columns: ["a", "b"],
      rows: [[1, 2]],
    });
    const records: Record<string, unknown>[] = [{ a: 1 }];
    const fromRecords = new Table(records);
    records[0].a = 2;
    records[0].b = 3;
    records.push({ c: 4 });
    assert.deepEqual(await decodeJson(fromRecords), {
      columns: ["a"],
      rows: [[1]],
    });
    assert.equal(fromRecords.toCsv(), "a\r\n1\r\n");
  });
});

describe("Histogram", () => {
  it("Histogram.encode() counts known data, the maximum in the last bin", async () => {
    const histogram = new Histogram({
      values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      bins: 5,
    });
    const encoded = await histogram.encode();
    assert.equal(encoded.mediaType, "histogram");
    assert.equal(encoded.contentType, "application/json");
    assert.equal(encoded.extension, "json");
    assert.deepEqual(encoded.metadata, { bins: 5, total: 11 });
    const json = JSON.parse(new TextDecoder().decode(encoded.data));
    assert.deepEqual(json.edges, [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(json.counts, [2, 2, 2, 2, 3]);
    assert.equal(json.total, 11);
    assert.equal(json.min, 0);
    assert.equal(json.max, 10);
    assert.equal(json.underflow, 0);
    assert.equal(json.overflow, 0);
  });

  it("Histogram puts each value on a bin edge in the bin above it", async () => {
    const json = await decodeJson(
      new Histogram({ values: [0, 0.25, 0.5, 0.75, 1], bins: 4 }),
    ) as { edges: number[]; counts: number[] };
    assert.deepEqual(json.edges, [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(json.counts, [1, 1, 1, 2]);
  });

  it("Histogram uses 64 bins by default and value ± 0.5 when all values are equal", async () => {
    const byDefault = await decodeJson(
      new Histogram({ values: Float32Array.from([1, 2, 3]) }),
    ) as { edges: number[]; counts: number[] };
    assert.equal(byDefault.counts.length, 64);
    assert.equal(byDefault.edges.length, 65);
    assert.equal(byDefault.edges[0], 1);
    assert.equal(byDefault.edges[64], 3);
    assert.equal(byDefault.counts[0], 1);
    assert.equal(byDefault.counts[32], 1);
    assert.equal(byDefault.counts[63], 1);
    const equal = await decodeJson(
      new Histogram({ values: [3, 3, 3], bins: 2 }),
    ) as Record<string, unknown>;
    assert.deepEqual(equal.edges, [2.5, 3, 3.5]);
    assert.deepEqual(equal.counts, [0, 3]);
    assert.equal(equal.min, 3);
    assert.equal(equal.max, 3);
  });

  it("Histogram with given edges counts values outside as underflow and overflow", async () => {
    const json = await decodeJson(
      new Histogram({ values: [-5, 0, 1, 2, 3, 3, 9], edges: [0, 1, 3] }),
    ) as Record<string, unknown>;
    assert.deepEqual(json.edges, [0, 1, 3]);
    assert.deepEqual(json.counts, [1, 4]);
    assert.equal(json.total, 5);
    assert.equal(json.underflow, 1);
    assert.equal(json.overflow, 1);
    assert.equal(json.min, -5);
    assert.equal(json.max, 9);
    const empty = await decodeJson(
      new Histogram({ values: [], edges: [0, 1] }),
    ) as Record<string, unknown>;
    assert.deepEqual(empty.counts, [0]);
    assert.equal(empty.min, null);
    assert.equal(empty.max, null);
    assert.deepEqual(
      (empty.comet as { index_values: unknown[] }).index_values,
      [],
    );
  });

  it("Histogram carries Comet's version-2 histogram JSON", async () => {
    const json = await decodeJson(
      new Histogram({ values: [3, 1, 5, 2, 4, 1] }),
    ) as { comet: unknown };
    // The bins of 1..5 match a capture of the Python SDK's log_histogram_3d.
    assert.deepEqual(json.comet, {
      version: 2,
      index_values: [[1065, 2], [1073, 1], [1077, 1], [1080, 1], [1082, 1]],
      values: null,
      offset: 0,
      start: 1e-12,
      stop: 1e20,
      step: 1.1,
    });
    const signs = await decodeJson(
      new Histogram({ values: [0, -1, 1e21, -1e21, 1e-300, 1e-13, -1e-13] }),
    ) as { comet: { index_values: unknown } };
    assert.deepEqual(signs.comet.index_values, [
      [0, 1], // -1e21 <= -stop: the first bin
      [484, 1], // -1: 775 - 1 - 290
      [774, 1], // -1e-13: below start in magnitude, the bin left of the centre
      [775, 3], // 0, and 1e-300 and 1e-13 (below start): the centre bin
      [1549, 1], // 1e21 >= stop: the last bin
    ]);
  });

  it("Histogram from counts keeps them and places Comet counts at bin midpoints", async () => {
    const histogram = new Histogram({ counts: [3, 0, 2], edges: [0, 2, 4, 6] });
    const encoded = await histogram.encode();
    assert.deepEqual(encoded.metadata, { bins: 3, total: 5 });
    const json = JSON.parse(new TextDecoder().decode(encoded.data));
    assert.deepEqual(json.edges, [0, 2, 4, 6]);
    assert.deepEqual(json.counts, [3, 0, 2]);
    assert.equal(json.total, 5);
    assert.equal(json.min, null);
    assert.equal(json.max, null);
    // Midpoints 1 and 5 land in Comet bins 1065 and 1082.
    assert.deepEqual(json.comet.index_values, [[1065, 3], [1082, 2]]);
  });

  it("Histogram names bad input in its error", () => {
    throwsNaming(
      () => new Histogram({ values: [1, 2, NaN] }),
      RangeError,
      "'values[2]'",
      "NaN",
    );
    throwsNaming(
      () => new Histogram({ values: [Infinity] }),
      RangeError,
      "'values[0]'",
      "Infinity",
    );
    throwsNaming(
      () => new Histogram({ values: [1, "2" as never] }),
      TypeError,
      "'values[1]'",
      '"2"',
    );
    throwsNaming(
      () => new Histogram({ values: "123" as never }),
      TypeError,
      "'values'",
      '"123"',
    );
    throwsNaming(
      () => new Histogram({ values: [] }),
      RangeError,
      "'values'",
      "empty",
    );
    throwsNaming(
      () => new Histogram({ values: [1], bins: 0 }),
      RangeError,
      "'bins'",
      "0",
    );
    throwsNaming(
      () => new Histogram({ values: [1], bins: 2.5 }),
      RangeError,
      "'bins'",
      "2.5",
    );
    throwsNaming(
      () => new Histogram({ values: [1], bins: 2, edges: [0, 1] }),
      TypeError,
      "'bins'",
      "'edges'",
    );
    throwsNaming(
      () => new Histogram({ values: [1], edges: [0, 2, 2] }),
      RangeError,
      "strictly increasing",
      "'edges[2]'",
    );
    throwsNaming(
      () => new Histogram({ values: [1], edges: [0] }),
      RangeError,
      "'edges'",
      "current length is 1",
    );
    throwsNaming(
      () => new Histogram({ values: [1], edges: [0, NaN] }),
      RangeError,
      "'edges[1]'",
      "NaN",
    );
    throwsNaming(
      () => new Histogram({ counts: [1, 2], edges: [0, 1] }),
      RangeError,
      "'counts'",
      "current length is 2",
    );
    throwsNaming(
      () => new Histogram({ counts: [1, -1], edges: [0, 1, 2] }),
      RangeError,
      "'counts[1]'",
      "-1",
    );
    throwsNaming(
      () => new Histogram({ counts: [1.5], edges: [0, 1] }),
      RangeError,
      "'counts[0]'",
      "1.5",
    );
    throwsNaming(
      () => new Histogram({ counts: [1] } as never),
      TypeError,
      "'edges'",
      "undefined",
    );
    throwsNaming(
      () => new Histogram({ values: [1], counts: [1], edges: [0, 1] } as never),
      TypeError,
      "'values'",
      "'counts'",
      "both",
    );
    throwsNaming(
      () => new Histogram({} as never),
      TypeError,
      "'values'",
      "'counts'",
      "neither",
    );
  });

  it("Histogram ignores mutation of values, edges and counts after construction", async () => {
    const values = [1, 2, 3];
    const edges = [0, 2, 4];
    const fromValues = new Histogram({ values, edges });
    const before = await decodeJson(fromValues);
    values.push(3, 3, 3);
    values[0] = 100;
    edges[1] = 1;
    assert.deepEqual(await decodeJson(fromValues), before);
    const counts = [1, 2];
    const countEdges = [0, 1, 2];
    const fromCounts = new Histogram({ counts, edges: countEdges });
    counts[0] = 50;
    countEdges[2] = 9;
    const json = await decodeJson(fromCounts) as Record<string, unknown>;
    assert.deepEqual(json.counts, [1, 2]);
    assert.deepEqual(json.edges, [0, 1, 2]);
  });
});

describe("ConfusionMatrix", () => {
  it("ConfusionMatrix.encode() gives Comet's confusion-matrix JSON", async () => {
    const matrix = new ConfusionMatrix({
      yTrue: ["dog", "cat", "cat", "bird", "dog"],
      yPred: ["dog", "cat", "dog", "bird", "cat"],
    });
    const encoded = await matrix.encode();
    assert.equal(encoded.mediaType, "confusion_matrix");
    assert.equal(encoded.contentType, "application/json");
    assert.equal(encoded.extension, "json");
    assert.deepEqual(encoded.metadata, { title: "Confusion Matrix", size: 3 });
    assert.deepEqual(JSON.parse(new TextDecoder().decode(encoded.data)), {
      version: 1,
      title: "Confusion Matrix",
      labels: ["bird", "cat", "dog"],
      matrix: [[1, 0, 0], [0, 1, 1], [0, 1, 1]],
      rowLabel: "Actual Category",
      columnLabel: "Predicted Category",
      maxSamplesPerCell: 25,
      sampleMatrix: null,
      type: null,
    });
  });

  it("ConfusionMatrix sorts numeric classes numerically and keeps given labels in order", async () => {
    const numeric = await decodeJson(
      new ConfusionMatrix({ yTrue: [10, 2, 1], yPred: [2, 2, 1] }),
    ) as Record<string, unknown>;
    assert.deepEqual(numeric.labels, ["1", "2", "10"]);
    assert.deepEqual(numeric.matrix, [[1, 0, 0], [0, 1, 0], [0, 1, 0]]);
    const given = await decodeJson(
      new ConfusionMatrix({
        yTrue: Int8Array.from([0, 1, 1]),
        yPred: [1, 1, 0],
        labels: ["1", "0", "2"],
        title: "Epoch 3",
        rowLabel: "truth",
        columnLabel: "guess",
      }),
    ) as Record<string, unknown>;
    assert.deepEqual(given.labels, ["1", "0", "2"]);
    assert.deepEqual(given.matrix, [[1, 1, 0], [1, 0, 0], [0, 0, 0]]);
    assert.equal(given.title, "Epoch 3");
    assert.equal(given.rowLabel, "truth");
    assert.equal(given.columnLabel, "guess");
  });

  it("ConfusionMatrix from counts defaults the labels to indices", async () => {
    const json = await decodeJson(
      new ConfusionMatrix({ matrix: [[5, 1], [0, 4]] }),
    ) as Record<string, unknown>;
    assert.deepEqual(json.labels, ["0", "1"]);
    assert.deepEqual(json.matrix, [[5, 1], [0, 4]]);
  });

  it("ConfusionMatrix names bad input in its error", () => {
    throwsNaming(
      () => new ConfusionMatrix({ yTrue: [1, 2], yPred: [1] }),
      RangeError,
      "'yPred'",
      "'yTrue' (2)",
      "current length is 1",
    );
    throwsNaming(
      () =>
        new ConfusionMatrix({
          yTrue: ["a", "b"],
          yPred: ["a", "c"],
          labels: ["a", "b"],
        }),
      RangeError,
      "'yPred[1]'",
      '"c"',
      '["a","b"]',
    );
    throwsNaming(
      () => new ConfusionMatrix({ yTrue: ["a", NaN], yPred: ["a", "a"] }),
      TypeError,
      "'yTrue[1]'",
      "NaN",
    );
    throwsNaming(
      () => new ConfusionMatrix({ yTrue: [], yPred: [] }),
      RangeError,
      "'yTrue'",
      "empty",
    );
    throwsNaming(
      () => new ConfusionMatrix({ matrix: [[1, 2], [3]] }),
      RangeError,
      "square",
      "'matrix[1]'",
      "length 1",
    );
    throwsNaming(
      () => new ConfusionMatrix({ matrix: [[1, 2]] }),
      RangeError,
      "square",
      "'matrix[0]'",
      "length 2",
    );
    throwsNaming(
      () => new ConfusionMatrix({ matrix: [] }),
      RangeError,
      "'matrix'",
      "empty",
    );
    throwsNaming(
      () => new ConfusionMatrix({ matrix: [[1, 0], [0, 1]], labels: ["a"] }),
      RangeError,
      "'labels'",
      "2×2",
      "current length is 1",
    );
    throwsNaming(
      () => new ConfusionMatrix({ matrix: [[1, -2], [0, 1]] }),
      RangeError,
      "'matrix[0][1]'",
      "-2",
    );
    throwsNaming(
      () => new ConfusionMatrix({ matrix: [[1, 0], [0.5, 1]] }),
      RangeError,
      "'matrix[1][0]'",
      "0.5",
    );
    throwsNaming(
      () => new ConfusionMatrix({ matrix: [[1, 0], [null as never, 1]] }),
      TypeError,
      "'matrix[1][0]'",
      "null",
    );
    throwsNaming(
      () =>
        new ConfusionMatrix({ matrix: [[1, 0], [0, 1]], labels: ["a", "a"] }),
      RangeError,
      "'labels[1]'",
      '"a"',
    );
    throwsNaming(
      () => new ConfusionMatrix({ matrix: [[1]], title: 5 as never }),
      TypeError,
      "'title'",
      "5",
    );
  });

  it("ConfusionMatrix ignores mutation of the input after construction", async () => {
    const yTrue = ["a", "b"];
    const yPred = ["a", "b"];
    const labels = ["a", "b"];
    const fromPairs = new ConfusionMatrix({ yTrue, yPred, labels });
    const before = await decodeJson(fromPairs);
    yTrue[1] = "a";
    yPred.push("b");
    labels.reverse();
    assert.deepEqual(await decodeJson(fromPairs), before);
    const matrix = [[1, 2], [3, 4]];
    const fromCounts = new ConfusionMatrix({ matrix });
    matrix[0][0] = 99;
    matrix.push([0, 0]);
    const json = await decodeJson(fromCounts) as Record<string, unknown>;
    assert.deepEqual(json.matrix, [[1, 2], [3, 4]]);
  });
});

describe("Curve", () => {
  it("Curve.encode() gives { name, x, y } as JSON", async () => {
    const encoded = await new Curve({
      name: "loss-vs-lr",
      x: Float64Array.from([0.1, 0.01]),
      y: [2.5, 1.25],
    }).encode();
    assert.equal(encoded.mediaType, "curve");
    assert.equal(encoded.contentType, "application/json");
    assert.equal(encoded.extension, "json");
    assert.deepEqual(encoded.metadata, { name: "loss-vs-lr", points: 2 });
    assert.deepEqual(JSON.parse(new TextDecoder().decode(encoded.data)), {
      name: "loss-vs-lr",
      x: [0.1, 0.01],
      y: [2.5, 1.25],
    });
  });

  it("Curve names bad input in its error", () => {
    throwsNaming(
      () => new Curve({ name: "c", x: [1, 2], y: [1] }),
      RangeError,
      "'y'",
      "'x' (2)",
      "current length is 1",
    );
    throwsNaming(
      () => new Curve({ name: "c", x: [1, 2], y: [1, NaN] }),
      RangeError,
      "'y[1]'",
      "NaN",
    );
    throwsNaming(
      () => new Curve({ name: "c", x: [1, "2" as never], y: [1, 2] }),
      TypeError,
      "'x[1]'",
      '"2"',
    );
    throwsNaming(
      () => new Curve({ name: "", x: [1], y: [1] }),
      RangeError,
      "'name'",
      "empty",
    );
    throwsNaming(
      () => new Curve({ name: 3 as never, x: [1], y: [1] }),
      TypeError,
      "'name'",
      "3",
    );
    throwsNaming(
      () => new Curve({ name: "c", x: [], y: [] }),
      RangeError,
      "'x'",
      "empty",
    );
  });

  it("Curve ignores mutation of x and y after construction", async () => {
    const x = [0, 1];
    const y = [0, 1];
    const curve = new Curve({ name: "c", x, y });
    x[1] = 5;
    y.push(2);
    assert.deepEqual(await decodeJson(curve), {
      name: "c",
      x: [0, 1],
      y: [0, 1],
    });
    assert.equal(curve.auc, 0.5);
  });
});

// Hand-computed example with ties. Sorted by score:
//   0.9:+  0.8:+ 0.8:-  0.6:+  0.4:- 0.4:+  0.2:-      P = 4, N = 3
// threshold   TP FP  recall precision   FPR   TPR
//   0.9        1  0   1/4    1          0     1/4
//   0.8        2  1   2/4    2/3        1/3   2/4
//   0.6        3  1   3/4    3/4        1/3   3/4
//   0.4        4  2   1      4/6        2/3   1
//   0.2        4  3   1      4/7        1     1
const SCORES = [0.4, 0.9, 0.8, 0.2, 0.6, 0.8, 0.4];
const LABELS: (0 | 1)[] = [0, 1, 1, 0, 1, 0, 1];

describe("prCurve", () => {
  it("prCurve() gives precision against recall, ties entering together", async () => {
    const curve = prCurve(SCORES, LABELS);
    assert.deepEqual(await decodeJson(curve), {
      name: "pr",
      x: [0, 1 / 4, 2 / 4, 3 / 4, 1, 1],
      y: [1, 1, 2 / 3, 3 / 4, 4 / 6, 4 / 7],
    });
  });

  it("prCurve() takes booleans, typed arrays and a name", async () => {
    const curve = prCurve(
      Float32Array.from([0.5, 0.25]),
      [false, true],
      { name: "val-pr" },
    );
    assert.equal(curve.name, "val-pr");
    assert.deepEqual(await decodeJson(curve), {
      name: "val-pr",
      x: [0, 0, 1],
      y: [1, 0, 0.5],
    });
  });

  it("prCurve() names bad input in its error", () => {
    throwsNaming(
      () => prCurve([0.1, 0.2], [1, 2 as never]),
      TypeError,
      "'labels[1]'",
      "2",
    );
    throwsNaming(
      () => prCurve([0.1, NaN], [1, 0]),
      RangeError,
      "'scores[1]'",
      "NaN",
    );
    throwsNaming(
      () => prCurve([0.1, 0.2], [1]),
      RangeError,
      "'labels'",
      "'scores' (2)",
      "current length is 1",
    );
    throwsNaming(
      () => prCurve([0.1, 0.2], [0, false]),
      RangeError,
      "'labels'",
      "positive",
    );
    throwsNaming(() => prCurve([], []), RangeError, "'scores'", "empty");
  });
});

describe("rocCurve", () => {
  it("rocCurve() gives TPR against FPR from (0, 0) to (1, 1), ties as diagonals", async () => {
    const curve = rocCurve(SCORES, LABELS);
    assert.deepEqual(await decodeJson(curve), {
      name: "roc",
      x: [0, 0, 1 / 3, 1 / 3, 2 / 3, 1],
      y: [0, 1 / 4, 2 / 4, 3 / 4, 1, 1],
    });
    // Mann-Whitney: 9 of the 12 (positive, negative) pairs ordered, ties half.
    assertClose(curve.auc, 0.75);
  });

  it("rocCurve().auc is 1 for a perfect classifier, 0 for an inverted one and 0.5 for random-ish ones", () => {
    const labels: (0 | 1)[] = [1, 1, 1, 0, 0, 0];
    assert.equal(rocCurve([0.9, 0.8, 0.7, 0.3, 0.2, 0.1], labels).auc, 1);
    assert.equal(rocCurve([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], labels).auc, 0);
    assert.equal(rocCurve([0.5, 0.5, 0.5, 0.5, 0.5, 0.5], labels).auc, 0.5);
    // Each positive beats half of the negatives.
    assertClose(
      rocCurve([0.1, 0.2, 0.3, 0.4], [1, 0, 0, 1]).auc,
      0.5,
    );
    assertClose(
      rocCurve([0.8, 0.6, 0.4, 0.2, 0.7, 0.5, 0.3, 0.1], [
        1,
        0,
        1,
        0,
        0,
        1,
        0,
        1,
      ])
        .auc,
      0.5,
    );
  });

  it("rocCurve() names bad input in its error", () => {
    throwsNaming(
      () => rocCurve([0.1, 0.2], [true, true]),
      RangeError,
      "'labels'",
      "all positive",
    );
    throwsNaming(
      () => rocCurve([0.1, 0.2], [0, 0]),
      RangeError,
      "'labels'",
      "all negative",
    );
    throwsNaming(
      () => rocCurve([0.1, 0.2], [1, "1" as never]),
      TypeError,
      "'labels[1]'",
      '"1"',
    );
    throwsNaming(
      () => rocCurve(null as never, [1]),
      TypeError,
      "'scores'",
      "null",
    );
  });

  it("rocCurve() ignores mutation of scores and labels after the call", async () => {
    const scores = [0.9, 0.1];
    const labels: (0 | 1)[] = [1, 0];
    const curve = rocCurve(scores, labels);
    scores.reverse();
    labels[0] = 0;
    assert.deepEqual(await decodeJson(curve), {
      name: "roc",
      x: [0, 0, 1],
      y: [0, 1, 1],
    });
  });
});
