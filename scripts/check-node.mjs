// npm scripts run on the Node.js of the `node` devDependency (node_modules/.bin comes first on
// their PATH). npm 11 skips install scripts it was not told to allow, and without the `node`
// package's script the machine's own Node would run everything, silently. Say so instead.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `Node.js ${process.versions.node} runs this script, but the service needs Node.js 24 LTS.\n` +
      'Run `npm ci`: it installs Node 24 as the `node` devDependency, which npm scripts use. If it did not\n' +
      '(npm printed "install scripts not yet covered by allowScripts"), check that package.json still has\n' +
      '"allowScripts": { "node": true }, or install Node.js 24 on the machine.',
  );
  process.exit(1);
}
