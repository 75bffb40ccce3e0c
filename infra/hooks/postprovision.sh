#!/bin/sh
# azd postprovision hook: creates Herald's key-encryption key (KEK) in Key Vault when it is missing:
# 32 random bytes, base64, generated here so no key material is in source or deployment history.
# An existing KEK is never touched (rolling a new version is deliberate: infra/README.md).
# Needs: az (logged in as the principal azd provisioned with) and openssl.
set -eu

vault="${AZURE_KEY_VAULT_NAME:-}"
name="${KEK_SECRET_NAME:-herald-kek}"

if [ -z "$vault" ]; then
  echo "postprovision: AZURE_KEY_VAULT_NAME is not set (nothing was provisioned); KEK not checked."
  exit 0
fi

# The Key Vault Secrets Officer role assigned by this provision can take minutes to apply.
attempt=1
while :; do
  if out=$(az keyvault secret show --vault-name "$vault" --name "$name" --query id --output tsv 2>&1); then
    echo "postprovision: KEK '$name' already exists in $vault; left as it is."
    exit 0
  fi
  case "$out" in
    *SecretNotFound*) break ;;
    *Forbidden*|*ForbiddenByRbac*)
      if [ "$attempt" -ge 20 ]; then
        echo "postprovision: still not allowed to read secrets in $vault after $attempt tries:" >&2
        echo "$out" >&2
        exit 1
      fi
      echo "postprovision: waiting for the Key Vault role assignment to apply ($attempt/20)..."
      attempt=$((attempt + 1))
      sleep 15
      ;;
    *)
      echo "postprovision: cannot read '$name' in $vault:" >&2
      echo "$out" >&2
      exit 1
      ;;
  esac
done

# The value goes through a private temporary file, not the command line (visible to `ps`).
umask 077
keyfile=$(mktemp)
trap 'rm -f "$keyfile"' EXIT
openssl rand -base64 32 | tr -d '\n' > "$keyfile"
az keyvault secret set --vault-name "$vault" --name "$name" --file "$keyfile" --encoding utf-8 \
  --content-type "base64 of 32 random bytes (Herald KEK)" --query id --output tsv > /dev/null
echo "postprovision: created KEK '$name' in $vault."
