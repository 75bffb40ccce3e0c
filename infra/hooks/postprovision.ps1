# azd postprovision hook (Windows): creates Herald's key-encryption key (KEK) in Key Vault when it
# is missing: 32 random bytes, base64. Same behaviour as postprovision.sh; an existing KEK is
# never touched (rolling a new version is deliberate: infra/README.md).
# Errors are judged by az's exit code: its stderr is read below, and must not stop the script.
$ErrorActionPreference = 'Continue'

$vault = $env:AZURE_KEY_VAULT_NAME
$name = if ($env:KEK_SECRET_NAME) { $env:KEK_SECRET_NAME } else { 'herald-kek' }

if (-not $vault) {
    Write-Host 'postprovision: AZURE_KEY_VAULT_NAME is not set (nothing was provisioned); KEK not checked.'
    exit 0
}

# The Key Vault Secrets Officer role assigned by this provision can take minutes to apply.
for ($attempt = 1; ; $attempt++) {
    $out = az keyvault secret show --vault-name $vault --name $name --query id --output tsv 2>&1
    if ($LASTEXITCODE -eq 0) {
        Write-Host "postprovision: KEK '$name' already exists in $vault; left as it is."
        exit 0
    }
    $text = $out | Out-String
    if ($text -match 'SecretNotFound') { break }
    if ($text -match 'Forbidden' -and $attempt -lt 20) {
        Write-Host "postprovision: waiting for the Key Vault role assignment to apply ($attempt/20)..."
        Start-Sleep -Seconds 15
        continue
    }
    [Console]::Error.WriteLine("postprovision: cannot read '$name' in ${vault}: $text")
    exit 1
}

# The value goes through a temporary file, not the command line.
$keyFile = New-TemporaryFile
try {
    $bytes = [System.Security.Cryptography.RandomNumberGenerator]::GetBytes(32)
    [System.IO.File]::WriteAllText($keyFile.FullName, [Convert]::ToBase64String($bytes))
    az keyvault secret set --vault-name $vault --name $name --file $keyFile.FullName --encoding utf-8 `
        --content-type 'base64 of 32 random bytes (Herald KEK)' --query id --output tsv | Out-Null
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
} finally {
    Remove-Item -Force $keyFile.FullName
}
Write-Host "postprovision: created KEK '$name' in $vault."
