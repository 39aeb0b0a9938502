import { SessionStore } from "@braid/workflows"
import { sessionStoreSuite } from "./sessionStoreConformance.js"

sessionStoreSuite("memory", () => SessionStore.layerMemory, { persistent: false })
