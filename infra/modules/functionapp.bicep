// The Function App on the Flex Consumption plan (Python 3.13), running as the user-assigned
// identity: no connection strings, no keys. Every app setting Herald reads in Azure is here;
// settings left at their defaults (shared/settings.py) are not set, except those a binding names
// (bindingSettings), and local-only ones never are.

param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentContainerName string
param appInsightsConnectionString string
param cosmosEndpoint string
param cosmosDatabaseName string
param keyVaultUri string
param kekKeyName string
@description('KEK secret of a deployment made before the KEK was a key; empty: HERALD_KEK_SECRET_NAME is not set.')
param legacyKekSecretName string
param portalKeyName string
@description('Base of the app portal links; empty: HERALD_PUBLIC_BASE_URL is not set (each request\'s own address).')
param publicBaseUrl string
param authIssuer string
param authAudience string
param authJwksUrl string
param authTenantClaim string
@description('Every caller in one tenant on purpose; HERALD_AUTH_SINGLE_TENANT is set only when true.')
param authSingleTenant bool
@description('Tenants whose herald.operator role counts; empty: HERALD_OPERATOR_TENANTS is not set.')
param operatorTenants string
@description('Comma-separated browser origins: both Herald\'s own CORS and the platform CORS.')
param corsAllowedOrigins string
@description('Key Vault secret holding the Redis URL for shared rate limits; empty: HERALD_REDIS_URL is not set.')
param redisUrlSecretUri string
@description('Durable Functions task hub (host.json reads it as %TASK_HUB_NAME%).')
param taskHubName string
param maximumInstanceCount int
@description('Spread instances across availability zones (Flex then keeps two always-ready instances per function group).')
param zoneRedundant bool
param instanceMemoryMB int
@description('Subnet the app is integrated into; empty: no VNet integration.')
param subnetId string

var corsOrigins = empty(corsAllowedOrigins) ? [] : split(corsAllowedOrigins, ',')

var platformSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // DefaultAzureCredential (Cosmos, Key Vault) picks the user-assigned identity by this id.
  AZURE_CLIENT_ID: identityClientId
  TASK_HUB_NAME: taskHubName
}

var heraldSettings = {
  HERALD_COSMOS_ENDPOINT: cosmosEndpoint
  HERALD_COSMOS_DATABASE: cosmosDatabaseName
  HERALD_KEYVAULT_URL: keyVaultUri
  HERALD_KEK_KEY_NAME: kekKeyName
  HERALD_PORTAL_KEY_NAME: portalKeyName
  HERALD_AUTH_ISSUER: authIssuer
  HERALD_AUTH_AUDIENCE: authAudience
  HERALD_AUTH_JWKS_URL: authJwksUrl
  HERALD_AUTH_TENANT_CLAIM: authTenantClaim
  HERALD_CORS_ALLOWED_ORIGINS: corsAllowedOrigins
}

var legacyKekSettings = empty(legacyKekSecretName) ? {} : {
  HERALD_KEK_SECRET_NAME: legacyKekSecretName
}

// A Key Vault reference: the platform reads the secret with keyVaultReferenceIdentity, so the URL
// (and its password) is in no app setting, deployment or `az functionapp config appsettings list`.
var redisSettings = empty(redisUrlSecretUri) ? {} : {
  HERALD_REDIS_URL: '@Microsoft.KeyVault(SecretUri=${redisUrlSecretUri})'
}

var publicBaseUrlSettings = empty(publicBaseUrl) ? {} : {
  HERALD_PUBLIC_BASE_URL: publicBaseUrl
}

var singleTenantSettings = authSingleTenant ? {
  HERALD_AUTH_SINGLE_TENANT: 'true'
} : {}

var operatorSettings = empty(operatorTenants) ? {} : {
  HERALD_OPERATOR_TENANTS: operatorTenants
}

// Settings a binding names as %NAME%: the host resolves them when it indexes the functions, before
// any of Herald's code runs, so the default in shared/settings.py never applies there. A name left
// unset fails that function's indexing. Same values as the defaults in shared/settings.py.
var bindingSettings = {
  HERALD_SWEEP_SCHEDULE: '0 */1 * * * *'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy on Flex Consumption keeps at least two always-ready instances per function group (billed continuously) and is not offered in every region: opt in with zoneRedundant=true
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: Herald is a public API: every route but health needs an Entra bearer token, which Herald validates itself
  // checkov:skip=CKV_AZURE_17: callers authenticate with bearer tokens; client certificates (mTLS) are not part of the API
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales to zero by design; the platform starts instances on demand
  // checkov:skip=CKV_AZURE_213: the platform health check is not supported on Flex Consumption; probes use /api/v1/health/ready
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      cors: {
        allowedOrigins: corsOrigins
        supportCredentials: false
      }
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.13'
      }
    }
  }

  resource appSettings 'config' = {
    name: 'appsettings'
    properties: union(platformSettings, heraldSettings, bindingSettings, legacyKekSettings, redisSettings, singleTenantSettings, operatorSettings, publicBaseUrlSettings)
  }

  // azd deploys with Entra tokens; basic (user/password) publishing stays off.
  resource ftpCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

output name string = site.name
output hostName string = site.properties.defaultHostName
output uri string = 'https://${site.properties.defaultHostName}'
