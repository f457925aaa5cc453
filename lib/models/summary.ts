/** `model.summary()` as Keras prints it, returned as text (tfjs' own summary prints and differs in form). */
import * as tf from '@tensorflow/tfjs';

export interface ParamCounts {
  total: number;
  trainable: number;
  nonTrainable: number;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Total, trainable and non-trainable parameter counts; frozen layers (`trainable = false`) count as non-trainable. */
export function paramCounts(model: tf.LayersModel): ParamCounts {
  const trainable = model.trainableWeights.reduce((n, w) => n + size(w.shape as number[]), 0);
  const total = model.countParams();
  return { total, trainable, nonTrainable: total - trainable };
}

function shapeText(shape: tf.Shape | tf.Shape[]): string {
  const one = (s: tf.Shape) => `(${s.map((d) => (d === null ? 'None' : String(d))).join(', ')})`;
  return Array.isArray(shape[0]) || shape.length === 0
    ? `[${(shape as tf.Shape[]).map(one).join(', ')}]`
    : one(shape as tf.Shape);
}

const grouped = (n: number) => n.toLocaleString('en-US');

/** Splits `text` at spaces into lines of at most `width` characters where it can (Keras wraps long cells so). */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  out.push(line);
  return out;
}

/**
 * Keras' table: Layer (type), Output Shape, Param #, Connected to; then Total / Trainable / Non-trainable params.
 * Column stops follow Keras' defaults for functional models (line length 98).
 */
export function summaryText(model: tf.LayersModel, lineLength = 98): string {
  const stops = [0.33, 0.55, 0.67, 1].map((p) => Math.floor(p * lineLength));
  const widths = stops.map((s, i) => s - (i ? stops[i - 1] : 0));
  const row = (cells: string[]) => {
    const parts = cells.map((c, i) => wrap(c, widths[i] - 2));
    const height = Math.max(...parts.map((p) => p.length));
    const lines: string[] = [];
    for (let l = 0; l < height; l++)
      lines.push(
        parts
          .map((p, i) => (' ' + (p[l] ?? '')).padEnd(widths[i]))
          .join('')
          .trimEnd(),
      );
    return lines;
  };
  const out = [
    `Model: "${model.name}"`,
    '_'.repeat(lineLength),
    ...row(['Layer (type)', 'Output Shape', 'Param #', 'Connected to']),
    '='.repeat(lineLength),
  ];
  model.layers.forEach((layer, i) => {
    const connected = layer.inboundNodes.flatMap((node) =>
      node.inboundLayers.map((l, k) => `'${l.name}[${node.nodeIndices[k]}][${node.tensorIndices[k]}]'`),
    );
    let shape: string;
    try {
      shape =
        layer.getClassName() === 'InputLayer' ? `[${shapeText(layer.outputShape)}]` : shapeText(layer.outputShape);
    } catch {
      shape = 'multiple'; // a layer used at several shapes, as Keras says
    }
    const cells = [
      `${layer.name} (${layer.getClassName()})`,
      shape,
      String(layer.countParams()),
      `[${connected.join(', ')}]`,
    ];
    out.push(...row(cells));
    out.push(i < model.layers.length - 1 ? '' : '='.repeat(lineLength));
  });
  const c = paramCounts(model);
  out.push(
    `Total params: ${grouped(c.total)}`,
    `Trainable params: ${grouped(c.trainable)}`,
    `Non-trainable params: ${grouped(c.nonTrainable)}`,
    '_'.repeat(lineLength),
  );
  return out.join('\n');
}
