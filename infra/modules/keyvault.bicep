// Key Vault for the key-encryption key (KEK) of endpoint secrets: RBAC mode, soft delete and purge
// protection (losing the KEK would lose every endpoint secret). The KEK itself is not created here
// (no key material in source or deployment history): infra/hooks/postprovision.* create it.

param name string
param location string
param tags object
@description('Principal id of the app identity: reads the KEK (Key Vault Secrets User).')
param principalId string
@description('Object id of the deploying principal: writes the KEK from the postprovision hook (Key Vault Secrets Officer). Empty: no assignment.')
param deployerPrincipalId string
@allowed([
  'User'
  'ServicePrincipal'
])
param deployerPrincipalType string
@allowed([
  'Enabled'
  'Disabled'
])
@description('Disabled with private networking: the app then goes through private endpoints.')
param publicNetworkAccess string
@description('Log Analytics workspace that receives the vault audit log.')
param logAnalyticsWorkspaceId string

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_189: public unless enablePrivateNetworking=true (then Disabled, through private endpoints): Flex Consumption without VNet integration has no fixed source IPs to allow; access is Entra-only (RBAC, one role per principal)
  // checkov:skip=CKV_AZURE_109: same as CKV_AZURE_189: defaultAction is Deny when enablePrivateNetworking=true
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
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

resource appReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, principalId, keyVaultSecretsUser)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
  }
}

resource deployerWritesSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  scope: vault
  name: guid(vault.id, deployerPrincipalId, keyVaultSecretsOfficer)
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
