// Lint and format: typescript-eslint's recommended rules and Effect's dprint formatting rule
// (the settings of the Effect monorepo). `npm run lint` checks; `npm run lint -- --fix` formats.
import effect from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

export default tseslint.config(
  { ignores: ["**/dist/**", "**/build/**", "**/node_modules/**", "**/.generated/**", "**/*.js"] },
  ...tseslint.configs.recommended,
  {
    plugins: { "@effect": effect },
    rules: {
      // Schema and SDK boundaries, and the tests' hand-made fakes, use `any` on purpose.
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }]
    }
  },
  {
    // @braid/core imports Effect by module (`effect/Effect`), never the `effect` barrel: the barrel
    // loads every Effect module, about a quarter of core's cold import time (docs/use-in-your-project.md).
    files: ["packages/core/src/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", {
        paths: [{ name: "effect", message: "import the module by its subpath, e.g. effect/Effect" }]
      }]
    }
  }
)
