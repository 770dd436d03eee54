// Runs the s3rver fake S3 server for tests/e2e/59b-sinks-s3.py on 127.0.0.1 and an
// ephemeral port, storing objects under argv[2], with the buckets named in argv[3..]
// created. Prints "PORT <n>" once it listens; exits on SIGTERM or when stdin closes.
'use strict';
const S3rver = require('s3rver');

const dir = process.argv[2];
const buckets = process.argv.slice(3).map((name) => ({ name }));
const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true, configureBuckets: buckets });
server.run().then(({ port }) => {
  process.stdout.write(`PORT ${port}\n`);
}, (err) => {
  process.stderr.write(`s3rver failed: ${err}\n`);
  process.exit(1);
});
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
