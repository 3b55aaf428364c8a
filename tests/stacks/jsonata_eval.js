// Compiles and evaluates Step Functions JSONata expressions with the jsonata package (package.json pins it).
// stdin: {"compile": ["expr", ...], "evaluate": [{"expression": "expr", "bindings": {"states": {...}, ...}}]}
// stdout: {"compiled": [null | "error", ...], "results": [{"value": ...} | {"undefined": true} | {"error": "..."}]}
// One request per line of stdin, one answer per line of stdout: a test session starts one process, not one per
// expression (Node's start-up is ~50 ms).
// Step Functions adds $uuid, $parse, $hash, $random, $partition and $range; $uuid and $parse are the ones the
// project uses, implemented here as Step Functions documents them (a v4 UUID; JSON.parse).
"use strict";
const crypto = require("crypto");
const jsonata = require("jsonata");

function prepare(source) {
  const expression = jsonata(source);
  expression.registerFunction("uuid", () => crypto.randomUUID(), "<:s>");
  expression.registerFunction("parse", (text) => JSON.parse(text), "<s:x>");
  return expression;
}

async function answer(request) {
  const compiled = (request.compile || []).map((source) => {
    try {
      prepare(source);
      return null;
    } catch (error) {
      return `${error.code || "error"}: ${error.message}`;
    }
  });
  const results = [];
  for (const item of request.evaluate || []) {
    try {
      const value = await prepare(item.expression).evaluate({}, item.bindings || {});
      results.push(value === undefined ? { undefined: true } : { value });
    } catch (error) {
      results.push({ error: `${error.code || "error"}: ${error.message}` });
    }
  }
  return { compiled, results };
}

async function main() {
  const lines = require("readline").createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim()) process.stdout.write(JSON.stringify(await answer(JSON.parse(line))) + "\n");
  }
}

main().catch((error) => {
  process.stderr.write(String(error.stack || error));
  process.exit(2);
});
