/**
 * The concept bottleneck: the current image's concept activations, the class-level concepts of
 * its true class (the training targets), and one control per concept to set it on or off. The
 * final classifier then answers from the given values (intervene, on the float model; and on the
 * int8 graph, whose concept codes are overwritten as the generated C does).
 */
import { CONCEPT_TABLE, FASHION_MNIST_CLASSES } from '@tinyblocks/datasets/browser';
import { $, argmax, bar, esc } from './dom.js';
import type { Int8Model } from './int8.js';
import type { DemoModel } from './model.js';
import type { Intervention, PageState, Prediction } from './state.js';

const name = (k: number) => esc(FASHION_MNIST_CLASSES[k]!);

export class ConceptPanel {
  private current: Prediction | null = null;
  /** Bumped per apply(): only the latest one writes its result. */
  private seq = 0;
  private int8Before: { p: Prediction; predicted: number } | null = null;
  int8: Int8Model | null = null;

  constructor(private readonly state: PageState, private readonly model: DemoModel) {
    $('resetConcepts').addEventListener('click', () => {
      document.querySelectorAll<HTMLSelectElement>('#conceptTable select').forEach((s) => (s.value = ''));
      void this.apply();
    });
  }

  show(p: Prediction): void {
    this.current = p;
    this.seq++;
    const truth = p.label === null ? null : CONCEPT_TABLE[p.label]!;
    const rows = this.model.conceptNames.map((c, j) => {
      const v = p.concepts[j]!;
      return `<tr><td>${esc(c)}</td><td class="num">${v.toFixed(2)}</td><td>${bar(v, 100)}</td>` +
        `<td class="muted">${truth ? `class: ${truth[j]}` : ''}</td>` +
        `<td><select data-concept="${j}" aria-label="${esc(c)}"><option value="">as predicted</option><option value="1">set on (1)</option><option value="0">set off (0)</option></select></td></tr>`;
    });
    $('conceptTable').innerHTML = `<tr><th>concept</th><th class="num">predicted</th><th></th><th></th><th>intervention</th></tr>${rows.join('')}`;
    document.querySelectorAll<HTMLSelectElement>('#conceptTable select').forEach((s) => s.addEventListener('change', () => void this.apply()));
    this.state.intervention = null;
    $('interventionResult').innerHTML = `final classifier: <b>${name(p.predicted)}</b> (${(p.probabilities[p.predicted]! * 100).toFixed(1)}%)`;
  }

  /** Reads the controls and reruns the final classifier with those concepts fixed. */
  async apply(): Promise<void> {
    const p = this.current;
    if (!p) return;
    const values: Record<number, number> = {};
    document.querySelectorAll<HTMLSelectElement>('#conceptTable select').forEach((s) => {
      if (s.value !== '') values[Number(s.dataset['concept'])] = Number(s.value);
    });
    const seq = ++this.seq;
    const after = await this.model.intervene(p.pixels, values);
    if (this.current !== p || seq !== this.seq) return; // another image or setting came meanwhile
    const predicted = argmax(after.logits);
    let int8: Intervention['int8'] = null;
    if (this.int8 && p.int8) {
      // the int8 final classifier without interventions: once per image
      if (this.int8Before?.p !== p) this.int8Before = { p, predicted: argmax(this.int8.intervene(p.pixels, {})) };
      const logits = this.int8.intervene(p.pixels, values);
      int8 = { before: this.int8Before.predicted, after: argmax(logits), logits };
    }
    this.state.intervention = { index: p.index, values, before: { predicted: p.predicted, logits: p.logits }, after: { predicted, ...after }, int8 };
    const set = Object.entries(values).map(([j, v]) => `"${esc(this.model.conceptNames[Number(j)]!)}" = ${v}`).join(', ');
    $('interventionResult').innerHTML = Object.keys(values).length === 0
      ? `final classifier: <b>${name(p.predicted)}</b> (${(p.probabilities[p.predicted]! * 100).toFixed(1)}%)`
      : `with ${set}: <b>${name(p.predicted)}</b> → <b>${name(predicted)}</b> (${(after.probabilities[predicted]! * 100).toFixed(1)}%)` +
        (int8 ? `<br><span class="small">int8: ${name(int8.before)} → ${name(int8.after)}</span>` : '');
  }
}
