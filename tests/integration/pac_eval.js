// Runs a proxy auto-config script as a browser would and prints, for each
// URL given, its host and the first choice FindProxyForURL made (PROXY for
// the router, DIRECT), joined by "|". Usage: node pac_eval.js FILE URL...
'use strict';
const fs = require('fs');
const vm = require('vm');

const sandbox = {};
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(process.argv[2], 'utf8'), sandbox);
const out = process.argv.slice(3).map((url) => {
  const host = /^[a-z]+:\/\/(\[[^\]]*\]|[^/:]*)/i.exec(url)[1];
  const answer = sandbox.FindProxyForURL(url, host.replace(/^\[|\]$/g, ''));
  return host + ' ' + (answer.startsWith('SOCKS5 ') ? 'PROXY' : answer);
});
console.log(out.join('|'));
