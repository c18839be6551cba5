// A node job on its event loop alone (no child process): timers and
// promises, a worker thread posting back through libuv's async handle
// (an eventfd), all waited for with epoll.  It says it is ready at once
// (CKPT_READY) and prints one line when done:
//   node: 150 ticks, total 1136275, worker 150
// whatever happened to it meanwhile: a dump mid-work, a kill, a restore.
'use strict';
const fs = require('fs');
const { Worker } = require('worker_threads');

const N = 150;
let total = 0, ticks = 0, fromWorker = 0;

const worker = new Worker(`
	const { parentPort } = require('worker_threads');
	parentPort.on('message', (i) => parentPort.postMessage(i * i));
`, { eval: true });
worker.on('message', (sq) => { total += sq; fromWorker++; });

function tick(i) {
	return new Promise((resolve) => setTimeout(() => { ticks++; resolve(i); }, 20));
}

(async () => {
	if (process.env.CKPT_READY)
		fs.writeFileSync(process.env.CKPT_READY, '');
	for (let i = 1; i <= N; i++) {
		const k = await tick(i);
		await new Promise((resolve) => setImmediate(resolve));
		worker.postMessage(k);
	}
	while (fromWorker < N)
		await new Promise((resolve) => setTimeout(resolve, 5));
	console.log(`node: ${ticks} ticks, total ${total}, worker ${fromWorker}`);
	await worker.terminate();
})();
