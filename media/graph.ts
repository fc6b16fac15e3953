// This module is browser compatible.
import {
  type EncodedMedia,
  MEDIA_VALUE,
  type MediaValue,
} from "./media_value.ts";
import { isPlainObject, jsonBytes, show } from "./_json.ts";

/** One node of a structured {@linkcode Graph}, such as a layer. */
export interface GraphNode {
  /** Unique, non-empty name that edges refer to. */
  id: string;
  /** What to display; defaults to `id` in the text form. */
  label?: string;
  /** The operation, such as `"Conv2d"` or `"MatMul"`. */
  op?: string;
}

/** One directed edge of a structured {@linkcode Graph}: data flows `from` → `to`. */
export interface GraphEdge {
  /** The `id` of the source node. */
  from: string;
  /** The `id` of the target node. */
  to: string;
}

/** The structured input of a {@linkcode Graph}. */
export interface GraphStructure {
  /** The nodes; their ids must be unique. */
  nodes: GraphNode[];
  /** The edges; both ends must be ids of `nodes`. */
  edges: GraphEdge[];
}

const ACTION = "Cannot create Graph";

/**
 * A model graph, as Comet's `set_model_graph` takes it: one text
 * (`write/experiment/graph`, body `{"graph": "<text>"}`).
 *
 * The input is either that text (such as a printed model) or a structure of
 * nodes and edges. A structure is checked (unique ids, edges between known
 * nodes) and rendered to text in Graphviz DOT:
 *
 * ```text
 * digraph {
 *   "input" [label="input"];
 *   "fc1" [label="Hidden layer", op="Linear"];
 *   "input" -> "fc1";
 * }
 * ```
 *
 * One line per node in the given order (`label` is the node's label, or its
 * id; `op` appears only when given), then one line per edge in the given
 * order, indented by two spaces, with `\n` between lines and no final line
 * break. Strings are DOT quoted strings: backslashes are doubled, double
 * quotes written `\"`, and line breaks written `\n`.
 *
 * `encode()` gives JSON (`application/json`, `.json`): `{ text }` for a text
 * input, `{ text, nodes, edges }` for a structure (nodes carry only the
 * fields given). The metadata is `{ format: "text" }`, or
 * `{ format: "dot", nodes, edges }` with the counts.
 *
 * @example Describe a two-layer network
 * ```ts
 * import { Graph } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const graph = new Graph({
 *   nodes: [{ id: "x" }, { id: "fc", label: "Hidden", op: "Linear" }],
 *   edges: [{ from: "x", to: "fc" }],
 * });
 * assert.equal(
 *   graph.text,
 *   'digraph {\n  "x" [label="x"];\n  "fc" [label="Hidden", op="Linear"];\n  "x" -> "fc";\n}',
 * );
 * const json = JSON.parse(new TextDecoder().decode((await graph.encode()).data));
 * assert.deepEqual(json.edges, [{ from: "x", to: "fc" }]);
 * ```
 *
 * @example Keep a printed model as it is
 * ```ts
 * import { Graph } from "@uetai/uetai/media";
 * import assert from "node:assert/strict";
 * const graph = new Graph("Sequential(\n  (0): Linear(784, 10)\n)");
 * const json = JSON.parse(new TextDecoder().decode((await graph.encode()).data));
 * assert.deepEqual(json, { text: "Sequential(\n  (0): Linear(784, 10)\n)" });
 * ```
 */
export class Graph implements MediaValue {
  /** The media brand: always `true`. */
  readonly [MEDIA_VALUE]: true = true;
  /** Always `"graph"`. */
  readonly mediaType: "graph" = "graph";
  #text: string;
  #nodes: GraphNode[] | undefined;
  #edges: GraphEdge[] | undefined;

  /**
   * Creates a model graph; a structure is checked and copied.
   *
   * @param input The graph text, or a structure of nodes and edges.
   * @throws {TypeError} When the input, a node or an edge has the wrong shape; the message names it.
   * @throws {RangeError} When a node id is empty or repeated, or an edge names an unknown node.
   */
  constructor(input: string | GraphStructure) {
    if (typeof input === "string") {
      this.#text = input;
      return;
    }
    if (!isPlainObject(input)) {
      throw new TypeError(
        `${ACTION} as 'input' must be a string or an object of nodes and edges: current value is ${
          show(input)
        }`,
      );
    }
    const nodes = readNodes(input.nodes);
    const edges = readEdges(input.edges, new Set(nodes.map((node) => node.id)));
    this.#nodes = nodes;
    this.#edges = edges;
    this.#text = renderDot(nodes, edges);
  }

  /** The text form: the input text, or the DOT rendering of the structure. */
  get text(): string {
    return this.#text;
  }

  /**
   * Encodes the graph as JSON.
   *
   * @returns An `application/json` file with extension `json`.
   */
  encode(): Promise<EncodedMedia> {
    const structured = this.#nodes !== undefined && this.#edges !== undefined;
    const body = structured
      ? { text: this.#text, nodes: this.#nodes, edges: this.#edges }
      : { text: this.#text };
    return Promise.resolve({
      mediaType: this.mediaType,
      contentType: "application/json",
      extension: "json",
      data: jsonBytes(body),
      metadata: structured
        ? {
          format: "dot",
          nodes: this.#nodes!.length,
          edges: this.#edges!.length,
        }
        : { format: "text" },
    });
  }
}

function readNodes(value: unknown): GraphNode[] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${ACTION} as 'nodes' must be an array: current value is ${show(value)}`,
    );
  }
  const ids = new Set<string>();
  return value.map((node: unknown, index) => {
    const path = `nodes[${index}]`;
    if (!isPlainObject(node)) {
      throw new TypeError(
        `${ACTION} as '${path}' must be an object with an 'id': current value is ${
          show(node)
        }`,
      );
    }
    const id = node.id;
    if (typeof id !== "string") {
      throw new TypeError(
        `${ACTION} as '${path}.id' must be a string: current value is ${
          show(id)
        }`,
      );
    }
    if (id === "") {
      throw new RangeError(
        `${ACTION} as '${path}.id' must not be empty: current value is ""`,
      );
    }
    if (ids.has(id)) {
      throw new RangeError(
        `${ACTION} as '${path}.id' must be unique: current value is ${
          show(id)
        }, already used by an earlier node`,
      );
    }
    ids.add(id);
    const copy: GraphNode = { id };
    for (const key of ["label", "op"] as const) {
      const field = node[key];
      if (field === undefined) continue;
      if (typeof field !== "string") {
        throw new TypeError(
          `${ACTION} as '${path}.${key}' must be a string: current value is ${
            show(field)
          }`,
        );
      }
      copy[key] = field;
    }
    return copy;
  });
}

function readEdges(value: unknown, ids: ReadonlySet<string>): GraphEdge[] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${ACTION} as 'edges' must be an array: current value is ${show(value)}`,
    );
  }
  return value.map((edge: unknown, index) => {
    const path = `edges[${index}]`;
    if (!isPlainObject(edge)) {
      throw new TypeError(
        `${ACTION} as '${path}' must be an object with 'from' and 'to': current value is ${
          show(edge)
        }`,
      );
    }
    const ends = { from: edge.from, to: edge.to };
    for (const key of ["from", "to"] as const) {
      const end = ends[key];
      if (typeof end !== "string") {
        throw new TypeError(
          `${ACTION} as '${path}.${key}' must be a node id string: current value is ${
            show(end)
          }`,
        );
      }
      if (!ids.has(end)) {
        throw new RangeError(
          `${ACTION} as '${path}.${key}' must be the id of a node: current value is ${
            show(end)
          }, which no node has`,
        );
      }
    }
    return { from: ends.from as string, to: ends.to as string };
  });
}

function quoteDot(text: string): string {
  return `"${
    text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replace(
      /\r\n|\r|\n/g,
      "\\n",
    )
  }"`;
}

function renderDot(nodes: GraphNode[], edges: GraphEdge[]): string {
  const lines = ["digraph {"];
  for (const node of nodes) {
    const attributes = [`label=${quoteDot(node.label ?? node.id)}`];
    if (node.op !== undefined) attributes.push(`op=${quoteDot(node.op)}`);
    lines.push(`  ${quoteDot(node.id)} [${attributes.join(", ")}];`);
  }
  for (const edge of edges) {
    lines.push(`  ${quoteDot(edge.from)} -> ${quoteDot(edge.to)};`);
  }
  lines.push("}");
  return lines.join("\n");
}
