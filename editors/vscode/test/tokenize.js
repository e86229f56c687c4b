// Tokenizes .eval files with the TextMate engine VS Code uses (vscode-textmate + vscode-oniguruma) and prints,
// as JSON, for each file: how many scopes are still open at its end, and the scopes of each token (line, start,
// end, scopes). Usage: node test/tokenize.js FILE... (run `npm ci` in editors/vscode first).
"use strict";

const fs = require("fs");
const path = require("path");
const oniguruma = require("vscode-oniguruma");
const textmate = require("vscode-textmate");

async function main(files) {
  const wasm = fs.readFileSync(path.join(path.dirname(require.resolve("vscode-oniguruma")), "onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== "source.evaldsl") return null;
      const file = path.join(__dirname, "..", "syntaxes", "evaldsl.tmLanguage.json");
      return textmate.parseRawGrammar(fs.readFileSync(file, "utf8"), file);
    },
  });
  const grammar = await registry.loadGrammar("source.evaldsl");
  const out = {};
  for (const file of files) {
    const lines = fs.readFileSync(file, "utf8").split(/\r?\n/);
    let state = textmate.INITIAL;
    const tokens = [];
    lines.forEach((line, i) => {
      const result = grammar.tokenizeLine(line, state);
      for (const t of result.tokens) tokens.push([i, t.startIndex, Math.min(t.endIndex, line.length), t.scopes]);
      state = result.ruleStack;
    });
    out[file] = { open: state.depth - 1, tokens };
  }
  process.stdout.write(JSON.stringify(out));
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(1);
});
