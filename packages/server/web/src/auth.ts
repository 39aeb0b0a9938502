/**
 * Sign-in: the token `braid users token` issued, kept in sessionStorage (gone when the tab closes).
 */
const key = "braid.token"

export const readToken = (): string | null => {
  try {
    return sessionStorage.getItem(key)
  } catch {
    return null
  }
}

export const saveToken = (token: string): void => sessionStorage.setItem(key, token)

export const clearToken = (): void => sessionStorage.removeItem(key)
