// Compiles and evaluates Step Functions JSONata expressions with the jsonata package (package.json pins it).
// stdin: {"compile": ["expr", ...], "evaluate": [{"expression": "expr", "bindings": {"states": {...}, ...}}]}
// stdout: {"compiled": [null | "error", ...], "results": [{"value": ...} | {"undefined": true} | {"error": "..."}]}
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

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const request = JSON.parse(Buffer.concat(chunks).toString("utf8"));
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
  process.stdout.write(JSON.stringify({ compiled, results }));
}

main().catch((error) => {
  process.stderr.write(String(error.stack || error));
  process.exit(2);
});
