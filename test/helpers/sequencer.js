// Runs end-to-end files first: they are the slowest, and starting them early shortens the run.
const Sequencer = require('@jest/test-sequencer').default;

class SlowFirst extends Sequencer {
  sort(tests) {
    const weight = (t) => (t.path.includes('/e2e/') ? 0 : t.path.includes('/integration/') ? 1 : t.path.includes('/workflow/') ? 2 : 3);
    return [...tests].sort((a, b) => weight(a) - weight(b) || a.path.localeCompare(b.path));
  }
}
module.exports = SlowFirst;
