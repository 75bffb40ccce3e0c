// The one user-assigned identity Herald runs as: every data-plane role in the other modules is
// granted to it, and the Function App names it for storage, Key Vault references and telemetry.

param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
