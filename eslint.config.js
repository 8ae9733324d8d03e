// ESLint: rules that catch defects, nothing about layout (Prettier owns layout; see docs/design.md, Design notes).
// TypeScript files are linted with type information from tsconfig.json (the typecheck's own project),
// so the promise rules see which calls return promises. The .mjs scripts are linted without it.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['dist/', 'coverage/', '.scratch/', '**/fixtures/']),
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Unused code: `_`-prefixed names are deliberate (a parameter an interface requires).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // verbatimModuleSyntax keeps every import that is not marked `type`; these keep the marking exact.
      // `typeof import('yaml')` stays allowed: it types a module loaded on first use, and says so where it is used.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports', disallowTypeAnnotations: false }],
      '@typescript-eslint/consistent-type-exports': 'error',
      '@typescript-eslint/no-import-type-side-effects': 'error',
      // A `return promise` inside try/catch skips the catch; the rest of the rule is taste.
      '@typescript-eslint/return-await': ['error', 'error-handling-correctness-only'],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-deprecated': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      // `let { year, month, day } = …` with only some reassigned stays one declaration.
      'prefer-const': ['error', { destructuring: 'all' }],
      // Off, as they find no defects here: an async method without await is how a Promise-returning interface
      // method is implemented synchronously (a throw still becomes a rejection); String(value) on an unknown is
      // the deliberate last resort of the log and repr code; the name and RESP checks look for control characters.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      'no-control-regex': 'off',
    },
  },
  {
    // Tests read JSON, YAML and child-process output and check the shape as they go: `any` there is a parsed
    // document, not a hole in a production type.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Production code logs through pino with a stable event; console output belongs to the CLI's commands.
    files: ['src/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
