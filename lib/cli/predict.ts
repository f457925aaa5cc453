/**
 * `affect predict` and `affect export`: use a trained run on photos, on the command line or in a web page;
 * `affect baseline face-api`: the off-the-shelf expression net evaluated on a run's test split, recorded like a run.
 */
import { checkNotInside } from '../fs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeBackend, initBackend } from '../backend';
import { baselineTestSet } from '../runner';
import {
  recordExpressionBaseline,
  DEFAULT_FACE_OPTIONS,
  DETECTOR_KINDS,
  EXPLAIN_MAX_FACES,
  DETECT_MODES,
  csvHeader,
  csvRows,
  exportWeb,
  jsonResult,
  listInputs,
  loadPredictor,
  predictFiles,
  tableLines,
  writeExplainPage,
  type DetectMode,
  type DetectorKind,
  type FaceOptions,
  type ImageResult,
} from '../predict';
import type { CommandSpec, OptionSpec, ParsedArgs } from './args';
import { UsageError } from './args';

const faceOptions: OptionSpec[] = [
  {
    name: 'detect-faces',
    type: 'string',
    choices: DETECT_MODES,
    default: DEFAULT_FACE_OPTIONS.detectFaces,
    description: `auto: images up to ${DEFAULT_FACE_OPTIONS.autoMaxSide} px are taken as face crops, larger ones go through the face detector`,
  },
  {
    name: 'detector',
    type: 'string',
    choices: DETECTOR_KINDS,
    default: DEFAULT_FACE_OPTIONS.detector,
    description: "face-api's SSD MobileNet v1 or tiny face detector",
  },
  {
    name: 'min-confidence',
    type: 'number',
    default: DEFAULT_FACE_OPTIONS.minConfidence,
    description: 'drop detections scoring below this',
  },
  {
    name: 'margin',
    type: 'number',
    default: DEFAULT_FACE_OPTIONS.margin,
    description: "added around each detected face, as a fraction of the box's longer side",
  },
  { name: 'top', type: 'number', default: 3, description: 'classes listed per face' },
];

function readFaceOptions(o: ParsedArgs['options']): FaceOptions & { top: number } {
  const num = (name: string, ok: (v: number) => boolean, what: string) => {
    const v = o[name] as number;
    if (!ok(v)) throw new UsageError(`option --${name} must be ${what}, got ${v}`);
    return v;
  };
  return {
    ...DEFAULT_FACE_OPTIONS,
    detectFaces: o['detect-faces'] as DetectMode,
    detector: o.detector as DetectorKind,
    minConfidence: num('min-confidence', (v) => v > 0 && v < 1, 'between 0 and 1'),
    margin: num('margin', (v) => v >= 0 && v <= 1, 'between 0 and 1'),
    top: num('top', (v) => Number.isInteger(v) && v >= 1, 'a positive integer'),
  };
}

const predict: CommandSpec = {
  path: ['predict'],
  summary: 'classify the faces in photos with a trained run (face detection, top classes, optional Grad-CAM page)',
  positionals: [
    { name: 'model', description: 'a run folder (config.json + model/) or a saved model folder (model.json)' },
    { name: 'images', description: 'an image file, or a folder (every file under it, recursively)' },
  ],
  options: [
    ...faceOptions,
    {
      name: 'format',
      type: 'string',
      choices: ['table', 'csv', 'json'],
      default: 'table',
      description: 'output on stdout: a line per face, a CSV row per face, or a JSON array of images',
    },
    {
      name: 'explain',
      type: 'string',
      description: `write FOLDER/explain.html: the Grad-CAM of each face (the first ${EXPLAIN_MAX_FACES})`,
    },
    {
      name: 'on-bad-image',
      type: 'string',
      choices: ['skip', 'fail'],
      default: 'skip',
      description: 'a file that is not a readable image: report it and go on, or stop (exit 1)',
    },
    { name: 'backend', type: 'string', description: 'tensorflow, wasm or cpu (default: the best available)' },
  ],
  async run({ positionals, options }) {
    const [modelPath, target] = positionals;
    if (options.explain !== undefined)
      checkNotInside({ path: options.explain as string, what: '--explain' }, [
        { path: target, what: 'input' },
        { path: modelPath, what: 'run or model folder' },
      ]);
    const face = readFaceOptions(options);
    const files = listInputs(target);
    const format = options.format as string;
    const explainDir = options.explain as string | undefined;
    const backend = await initBackend(options.backend as string | undefined);
    const predictor = await loadPredictor(modelPath);
    console.error(
      `model: ${predictor.source} (${predictor.classes.length} classes: ` +
        `${predictor.classes.join(', ')}; ${predictor.imageSize} ` +
        `px${predictor.grayscale ? ', grayscale' : ''}); ${describeBackend(backend)}`,
    );
    const explained: ImageResult[] = [];
    let bad = 0;
    let faces = 0;
    // A reader that stops early (`| head`) ends the output, not with an EPIPE error.
    let closed = false;
    const onError = (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      closed = true;
    };
    process.stdout.on('error', onError);
    const out = (s: string) => process.stdout.write(s + '\n');
    if (format === 'csv') out(csvHeader(face.top));
    if (format === 'json') process.stdout.write('[');
    let first = true;
    try {
      for await (const r of predictFiles(predictor, files, {
        ...face,
        explain: explainDir !== undefined,
        explainLimit: EXPLAIN_MAX_FACES,
        onBadImage: options['on-bad-image'] as 'skip' | 'fail',
        progress: files.length > 1,
      })) {
        if (closed) break;
        if (r.error) {
          bad++;
          console.error(`bad image ${r.file}: ${r.error}`);
        }
        faces += r.prediction?.faces.length ?? 0;
        if (r.prediction?.faces.some((f) => f.explanation)) explained.push(r);
        if (format === 'table') tableLines(r).forEach(out);
        else if (format === 'csv') csvRows(r, face.top).forEach(out);
        else {
          process.stdout.write(`${first ? '' : ','}\n${JSON.stringify(jsonResult(r, predictor.classes))}`);
          first = false;
        }
      }
    } finally {
      if (format === 'json' && !closed) out('\n]');
      process.stdout.off('error', onError);
      predictor.model.dispose();
    }
    console.error(`${files.length} file(s), ${faces} face(s)${bad ? `, ${bad} unreadable file(s) skipped` : ''}`);
    if (explainDir !== undefined) {
      fs.mkdirSync(explainDir, { recursive: true });
      console.error(`explanations: ${writeExplainPage(path.resolve(explainDir), explained, predictor.source, faces)}`);
    }
  },
};

const exportCommand: CommandSpec = {
  path: ['export'],
  summary: 'write a static web page that runs a trained model in the browser (face detection, classes, Grad-CAM)',
  positionals: [
    { name: 'model', description: 'a run folder (config.json + model/) or a saved model folder (model.json)' },
  ],
  options: [
    {
      name: 'web',
      type: 'string',
      required: true,
      description: 'the page folder (new, empty, or an earlier export, which is replaced)',
    },
    ...faceOptions,
    { name: 'title', type: 'string', description: "the page's heading (default: the run's experiment and trial)" },
  ],
  async run({ positionals, options }) {
    const { top, ...face } = readFaceOptions(options);
    checkNotInside({ path: options.web as string, what: '--web' }, [
      { path: positionals[0], what: 'run or model folder' },
    ]);
    await initBackend('cpu');
    const r = await exportWeb(positionals[0], options.web as string, {
      face,
      top,
      title: options.title as string | undefined,
    });
    console.log(`web page: ${r.dir} (${r.files.length} files; script ${(r.scriptBytes / 1e6).toFixed(1)} MB)`);
    const rel = path.relative(process.cwd(), r.dir);
    console.log(
      `serve it with any static server, e.g.: npx http-server ` +
        `${rel.startsWith('..') ? r.dir : rel || '.'} -a 127.0.0.1, then open ` +
        `http://127.0.0.1:8080/`,
    );
  },
};

const baseline: CommandSpec = {
  path: ['baseline', 'face-api'],
  summary:
    "evaluate face-api's off-the-shelf expression net on a run's test split (or a dataset's) and record it like a run",
  positionals: [
    {
      name: 'target',
      description:
        "a run folder (its own test split, same images) or a dataset folder (its Test split, or the folder's class folders)",
    },
  ],
  options: [
    {
      name: 'out',
      type: 'string',
      default: 'runs',
      description: 'records go to OUT/<experiment>/face-api-baseline/<time>/',
    },
    { name: 'backend', type: 'string', description: 'tensorflow, wasm or cpu (default: the best available)' },
  ],
  async run({ positionals, options }) {
    const backend = await initBackend(options.backend as string | undefined);
    const test = await baselineTestSet(positionals[0]);
    console.error(
      `face-api expression baseline on ${test.layout} (${test.indices.length} images; ${test.kind}); ${describeBackend(backend)}`,
    );
    const r = await recordExpressionBaseline(test, { out: options.out as string, progress: true });
    const runAccuracy = test.run?.testAccuracy;
    console.log(r.evaluation.reportText);
    const ofRun = runAccuracy !== undefined ? `; the run: ${runAccuracy.toFixed(4)}` : '';
    const ofStudy = r.published !== undefined ? `; study: ${r.published}` : '';
    console.log(`test accuracy (face-api baseline): ${r.evaluation.accuracy.toFixed(4)}${ofRun}${ofStudy}`);
    console.log(`record: ${r.dir}`);
  },
};

export const predictCommands: CommandSpec[] = [predict, exportCommand, baseline];
