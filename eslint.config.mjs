// ESLint's flat config: typescript-eslint's type-checked recommended rules over the TypeScript sources (tsconfig.json's
// files), ESLint's recommended rules over the plain JS build scripts and this file.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'vendor/', 'reproductions/', 'runs/', 'test-output/', '.cache/', 'native/build/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // CommonJS throughout: require() loads the N-API addon, optional packages (tfjs-node) and slow ones on first use.
      '@typescript-eslint/no-require-imports': 'off',
      // `async` without `await` implements a promise-returning interface (a command's run, a model's build, tf.io's
      // save): what it throws must reach the caller as a rejection.
      '@typescript-eslint/require-await': 'off',
      // A property left out of a copy is named in the destructuring (`{ seed: _seed, ...rest }`).
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // node:test's test() returns a promise that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      // Checks of options from JSON or plain JS report the value the types rule out (typed `never` there).
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNever: true }],
    },
  },
  {
    // The build scripts (plain CommonJS, run before anything is compiled) and this file are outside tsconfig.json.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  { files: ['**/*.js'], languageOptions: { sourceType: 'commonjs' } },
);
