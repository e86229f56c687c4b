// The evaldsl extension: starts `evaldsl lsp` (the language server, over stdio) for .eval files. Highlighting
// comes from the TextMate grammar in syntaxes/; everything else (diagnostics, completion, hover, navigation,
// rename, quick fixes, formatting) from the server.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("evaldsl");
  const command = config.get("server.command", "evaldsl");
  const args = config.get("server.args", ["lsp"]);
  const serverOptions = {
    run: { command, args, transport: TransportKind.stdio },
    debug: { command, args, transport: TransportKind.stdio },
  };
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "evaldsl" },
      { scheme: "untitled", language: "evaldsl" },
    ],
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.{eval,jsonl,json,csv,tsv,parquet}") },
  };
  client = new LanguageClient("evaldsl", "evaldsl language server", serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("evaldsl.server")) {
        vscode.window.showInformationMessage("evaldsl: reload the window to restart the language server.");
      }
    })
  );
  return client.start().catch((error) => {
    vscode.window.showErrorMessage(
      `evaldsl: could not start \`${command} ${args.join(" ")}\` (${error.message}). ` +
        "Install evaldsl (pip install evaldsl) or set evaldsl.server.command to its path."
    );
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
