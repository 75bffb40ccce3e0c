// Key Vault: the key-encryption key (KEK) of endpoint secrets, the app portal's signing key, and
// the Redis URL when one is given. RBAC mode, soft delete and purge protection (losing the KEK
// would lose every endpoint secret). The KEK is an RSA key generated inside the vault's HSMs
// (premium SKU) that can only wrap and unwrap; the portal key an EC P-256 HSM key that can only
// sign. Neither leaves the vault, and the app identity may use each for nothing else. Every role
// here is scoped to the one key or secret it is for, not to the vault.

param name string
param location string
param tags object
@description('Principal id of the app identity: wraps and unwraps with the KEK, reads the Redis URL secret.')
param principalId string
@description('Name of the KEK key.')
param kekKeyName string
@description('KEK secret of a deployment made before the KEK was a key: the app may read it to open what was sealed with it. Empty: none.')
param legacyKekSecretName string
@description('Name of the key that signs app portal tokens.')
param portalKeyName string
@secure()
@description('Redis URL, stored as a secret the app setting references. Empty: no secret.')
param redisUrl string
@allowed([
  'Enabled'
  'Disabled'
])
@description('Disabled with private networking: the app then goes through private endpoints.')
param publicNetworkAccess string
@description('Log Analytics workspace that receives the vault audit log.')
param logAnalyticsWorkspaceId string

// Key Vault Crypto Service Encryption User: read a key's public half, wrap and unwrap with it.
var cryptoServiceEncryptionUser = 'e147488a-f6f5-4113-8e2d-b22465e65bf6'
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
// Key Vault Crypto User: read a key and use it. Granted on the portal key alone, whose only
// operation is sign: the role can do nothing else with it (verifying uses its public half).
var cryptoUser = '12338af0-0e69-4776-bea7-57ae8d297424'
var redisSecretName = 'herald-redis-url'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_189: public unless enablePrivateNetworking=true (then Disabled, through private endpoints): Flex Consumption without VNet integration has no fixed source IPs to allow; access is Entra-only (RBAC, one role per key or secret)
  // checkov:skip=CKV_AZURE_109: same as CKV_AZURE_189: defaultAction is Deny when enablePrivateNetworking=true
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      // Premium: HSM-protected keys (the KEK).
      name: 'premium'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
    }
  }
}

// Created once through the control plane (no data-plane role, no key material in the deployment).
// ARM creates only a key's first version and refuses changed parameters later: new versions come
// from the rotation policy or `az keyvault key rotate`.
resource kek 'Microsoft.KeyVault/vaults/keys@2023-07-01' = {
  // checkov:skip=CKV_AZURE_40: an expiry is a deployment-time date ARM cannot change on redeploy (KeyCreationParametersDidNotMatchExistingKey); the rotation policy makes a new version every year and older versions must keep unwrapping what they wrapped
  parent: vault
  name: kekKeyName
  properties: {
    kty: 'RSA-HSM'
    keySize: 3072
    keyOps: [
      'wrapKey'
      'unwrapKey'
    ]
    attributes: {
      enabled: true
    }
    rotationPolicy: {
      lifetimeActions: [
        {
          trigger: {
            timeAfterCreate: 'P1Y'
          }
          action: {
            type: 'rotate'
          }
        }
      ]
    }
  }
}

// Signs app portal tokens (ES256): the app sends a digest, the vault signs it. Created once, as the
// KEK is; rotated yearly, older versions keep verifying the tokens they signed (7 days at most).
resource portalKey 'Microsoft.KeyVault/vaults/keys@2023-07-01' = {
  // checkov:skip=CKV_AZURE_40: an expiry is a deployment-time date ARM cannot change on redeploy (KeyCreationParametersDidNotMatchExistingKey); the rotation policy makes a new version every year
  parent: vault
  name: portalKeyName
  properties: {
    kty: 'EC-HSM'
    curveName: 'P-256'
    keyOps: [
      'sign'
    ]
    attributes: {
      enabled: true
    }
    rotationPolicy: {
      lifetimeActions: [
        {
          trigger: {
            timeAfterCreate: 'P1Y'
          }
          action: {
            type: 'rotate'
          }
        }
      ]
    }
  }
}

resource redisSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(redisUrl)) {
  // checkov:skip=CKV_AZURE_41: the URL is valid until its password is rotated, which sets a new version; an expiry would cut the app off from Redis at an arbitrary date
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov reads the properties of a conditional resource one level too deep (tests/infra checks it)
  parent: vault
  name: redisSecretName
  properties: {
    value: redisUrl
    contentType: 'text/plain; Redis URL (HERALD_REDIS_URL)'
    attributes: {
      enabled: true
    }
  }
}

// Deployments made before the KEK was a key created this secret in their postprovision hook.
resource legacyKek 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: empty(legacyKekSecretName) ? 'none' : legacyKekSecretName
}

resource auditLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  scope: vault
  name: 'audit'
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

resource appUsesKek 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: kek
  name: guid(kek.id, principalId, cryptoServiceEncryptionUser)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cryptoServiceEncryptionUser)
  }
}

resource appSignsPortalTokens 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: portalKey
  name: guid(portalKey.id, principalId, cryptoUser)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cryptoUser)
  }
}

resource appReadsRedisUrl 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(redisUrl)) {
  scope: redisSecret
  name: guid(vault.id, redisSecretName, principalId, keyVaultSecretsUser)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

resource appReadsLegacyKek 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(legacyKekSecretName)) {
  scope: legacyKek
  name: guid(vault.id, legacyKekSecretName, principalId, keyVaultSecretsUser)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
output kekKeyName string = kek.name
output portalKeyName string = portalKey.name
// Where the Redis URL secret is, when there is one (main.bicep knows): versionless, so the
// platform follows new versions. Nothing here derives from the URL, which is secure.
output redisUrlSecretUri string = '${vault.properties.vaultUri}secrets/${redisSecretName}'
